import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from "jose";
import { type Handlers, HttpError } from "./http.ts";
import type { EmulatorState } from "./state.ts";

/**
 * LINE Login's side of LIFF: the ID tokens a LIFF app gets from `liff.getIDToken()`, here minted for a simulated
 * user, the JWKS our server checks them against (`GET /oauth2/v2.1/certs`, ES256 with a `kid`), and LINE's verify
 * endpoint (`POST /oauth2/v2.1/verify`, form-encoded). Claims as LINE's: `iss` https://access.line.me, `sub` the
 * user id, `aud` the LINE Login channel id, `name`, `amr`, `exp` 1 h, `nonce` when given
 * (https://developers.line.biz/en/docs/line-login/verify-id-token/). The signing key lives in the state file, so a
 * LIFF page opened before a restart keeps working.
 */

const ISSUER = "https://access.line.me";

export async function createLiff(state: EmulatorState, opts: { loginChannelId: string }) {
  const { clock } = state;
  if (!state.signingKey) {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    state.signingKey = { kid: randomBytes(8).toString("hex"), privateJwk: await exportJWK(privateKey) };
  }
  const signingKey = state.signingKey;
  const { d: _d, ...publicJwk } = signingKey.privateJwk;
  const privateKey = await importJWK(signingKey.privateJwk, "ES256");
  const publicKey = await importJWK(publicJwk, "ES256");
  const jwks = JSON.stringify({ keys: [{ ...publicJwk, kid: signingKey.kid, alg: "ES256", use: "sig" }] });

  const handlers: Handlers<"jwks" | "verify"> = {
    jwks() {
      return { status: 200, body: jwks, headers: { "cache-control": "public, max-age=300" } };
    },
    async verify(ctx) {
      const form = new URLSearchParams(typeof ctx.body === "string" ? ctx.body : "");
      const idToken = form.get("id_token");
      const clientId = form.get("client_id");
      const fail = (d: string) => new HttpError(400, { error: "invalid_request", error_description: d });
      if (!idToken || !clientId) throw fail("Invalid IdToken.");
      try {
        const { payload } = await jwtVerify(idToken, publicKey, { issuer: ISSUER, audience: clientId, currentDate: clock.now() });
        const nonce = form.get("nonce");
        if (nonce && payload["nonce"] !== nonce) throw fail("Invalid IdToken Nonce.");
        const userId = form.get("user_id");
        if (userId && payload.sub !== userId) throw fail("Invalid IdToken Subject Identifier.");
        return { status: 200, body: payload };
      } catch (err) {
        if (err instanceof HttpError) throw err;
        const code = (err as { code?: string }).code;
        throw fail(
          code === "ERR_JWT_EXPIRED" ? "IdToken expired." : code === "ERR_JWT_CLAIM_VALIDATION_FAILED" ? "Invalid IdToken Audience." : "Invalid IdToken.",
        );
      }
    },
  };

  return {
    handlers,
    /** an ID token for this simulated user, as LINE would give the LIFF app (the console's `/id-token`) */
    async mintIdToken(userId: string, o: { aud?: string; expiresInSeconds?: number; nonce?: string } = {}): Promise<string> {
      const u = state.mustUser(userId);
      const now = Math.floor(clock.now().getTime() / 1000);
      const jwt = new SignJWT({ name: u.displayName, amr: ["linesso"], ...(o.nonce ? { nonce: o.nonce } : {}) })
        .setProtectedHeader({ alg: "ES256", kid: signingKey.kid, typ: "JWT" })
        .setIssuer(ISSUER)
        .setSubject(userId)
        .setAudience(o.aud ?? opts.loginChannelId)
        .setIssuedAt(now)
        .setExpirationTime(now + (o.expiresInSeconds ?? 3600));
      return jwt.sign(privateKey);
    },
  };
}
