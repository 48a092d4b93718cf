/**
 * Whether a failed HTTP call surely never reached the other side: the connection was never made (refused, no route,
 * name not resolved, connect timeout). Only then may a call that has no idempotency key be repeated without risking
 * a duplicate (a PNP, an SMS); any other failure after the request may have been written is ambiguous.
 * One predicate for LINE and every SMS provider (fetch/undici errors carry the system code on `cause`).
 */
const NEVER_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT"]);

export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === "string") return c;
  }
  return undefined;
}

export function connectionNeverMade(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && NEVER_CONNECTED.has(code);
}
