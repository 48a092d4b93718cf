import { jwtVerify, SignJWT } from "jose";

/**
 * The view token on a notification's next-step button: it lets the recipient of that very notice (who may not be
 * bound yet, e.g. a PNP recipient) open that one order or bill. HS256 with APP_SECRET, audience-scoped so it can't be
 * confused with binding-link tokens.
 */
export interface ViewTokenClaims {
  nid: string; // notification id
  type: "order" | "bill";
  id: string; // order or bill id
}

const AUD = "oa-notify:view";
const key = (secret: string) => new TextEncoder().encode(secret);

export async function signViewToken(secret: string, claims: ViewTokenClaims, now: Date, ttlSeconds = 30 * 24 * 3600): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ nid: claims.nid, typ: claims.type, rid: claims.id })
    .setProtectedHeader({ alg: "HS256" })
    .setAudience(AUD)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(key(secret));
}

/** The claims, or null for anything forged, expired or not a view token. */
export async function verifyViewToken(secret: string, token: string, now: Date): Promise<ViewTokenClaims | null> {
  try {
    const { payload } = await jwtVerify(token, key(secret), { audience: AUD, algorithms: ["HS256"], currentDate: now });
    const { nid, typ, rid } = payload as Record<string, unknown>;
    if (typeof nid !== "string" || (typ !== "order" && typ !== "bill") || typeof rid !== "string") return null;
    return { nid, type: typ, id: rid };
  } catch {
    return null;
  }
}
