import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Matches a presented key against the configured ones in constant time (hashing first makes lengths equal, and
 * every configured key is compared). Returns a short stable id for the key (for scoping and logs), never the key.
 */
export function createApiKeyMatcher(keys: string[]) {
  const known = keys.map((k) => ({ hash: digest(k), id: digest(k).toString("hex").slice(0, 12) }));
  return (presented: string | undefined): string | null => {
    if (!presented) return null;
    const h = digest(presented);
    let found: string | null = null;
    for (const k of known) if (timingSafeEqual(k.hash, h)) found = k.id;
    return found;
  };
}
