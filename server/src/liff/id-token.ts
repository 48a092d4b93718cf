import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";
import type { Clock } from "../lib/clock.ts";
import { isLineUserId } from "../lib/ids.ts";

export interface VerifiedLineUser {
  /** The LINE user id: the only claim we trust for identity. */
  sub: string;
  name: string | undefined;
  exp: number;
}

/** The token was refused (forged, expired, wrong channel…): the caller answers 401. */
export class IdTokenRejected extends Error {
  override name = "IdTokenRejected";
}
/** The JWKS could not be fetched: not the caller's fault, so 503 rather than 401. */
export class JwksUnavailable extends Error {
  override name = "JwksUnavailable";
}

const ISSUER = "https://access.line.me";

/**
 * Verifies LIFF ID tokens locally against LINE's JWKS (docs/decisions/0003-local-jwks.md): ES256 only, so an HS256 token
 * (alg confusion) or `alg: none` never passes; `iss`, `aud` (our LINE Login channel) and `exp` are checked with a
 * small tolerance for clock skew. The key set is cached by jose and refetched when a token names an unknown `kid`
 * (key rotation), at most once per cooldown.
 *
 * `apiBaseUrl` is read on each call: in sandbox mode the emulator's address is only known once it listens.
 */
export function createIdTokenVerifier(opts: { apiBaseUrl: () => string; channelId: () => string; clock: Clock; toleranceSeconds?: number }) {
  let jwks: { url: string; set: ReturnType<typeof createRemoteJWKSet> } | null = null;
  const keySet = () => {
    const url = `${opts.apiBaseUrl().replace(/\/$/, "")}/oauth2/v2.1/certs`;
    if (!jwks || jwks.url !== url) {
      jwks = { url, set: createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }) };
    }
    return jwks.set;
  };

  // jose refetches on an unknown kid only after its own cooldown, timed by the wall clock; we add a forced reload
  // timed by the app's clock, so a rotation is picked up at once yet a stream of made-up kids cannot make us hammer
  // LINE's JWKS (at most one forced reload per cooldown).
  let lastForcedReload = Number.NEGATIVE_INFINITY;
  const cooldownMs = 30_000;
  const attempt = (token: string) =>
    jwtVerify(token, keySet(), {
      algorithms: ["ES256"],
      issuer: ISSUER,
      audience: opts.channelId(),
      currentDate: opts.clock.now(),
      clockTolerance: opts.toleranceSeconds ?? 30,
      requiredClaims: ["sub", "exp", "iat"],
    });

  return async function verify(token: string): Promise<VerifiedLineUser> {
    let payload: JWTPayload;
    try {
      try {
        ({ payload } = await attempt(token));
      } catch (err) {
        const now = opts.clock.now().getTime();
        if (!(err instanceof errors.JWKSNoMatchingKey) || now - lastForcedReload < cooldownMs) throw err;
        lastForcedReload = now;
        await keySet().reload();
        ({ payload } = await attempt(token));
      }
    } catch (err) {
      if (err instanceof errors.JWKSTimeout || (err instanceof errors.JOSEError && err.code === "ERR_JOSE_GENERIC" && /JSON Web Key Set/.test(err.message))) {
        throw new JwksUnavailable("LINE JWKS unavailable");
      }
      if (err instanceof TypeError) throw new JwksUnavailable(`LINE JWKS unavailable: ${err.message}`);
      throw new IdTokenRejected(err instanceof errors.JOSEError ? err.code : "invalid token");
    }
    // jose checks `iat` only against a maximum age; a token issued in the future (beyond the skew we allow) was not
    // issued by a LINE whose clock we share, so it is refused like an expired one.
    if (typeof payload.iat !== "number" || payload.iat > opts.clock.now().getTime() / 1000 + (opts.toleranceSeconds ?? 30)) {
      throw new IdTokenRejected("iat in the future");
    }
    const sub = payload.sub;
    if (!isLineUserId(sub)) throw new IdTokenRejected("sub is not a LINE user id");
    return { sub, name: typeof payload["name"] === "string" ? payload["name"] : undefined, exp: payload.exp! };
  };
}
