import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { AppError } from "./errors.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** What a key may do: `write` keys (API_KEYS) everything, `read` keys (API_KEYS_READONLY) GET and HEAD only. */
export type ApiKeyScope = "read" | "write";
export interface ApiKeyMatch {
  id: string;
  scope: ApiKeyScope;
}

/**
 * Matches a presented key against the configured ones in constant time (hashing first makes lengths equal, and
 * every configured key is compared). Returns a short stable id for the key (for scoping and logs), never the key,
 * and its scope; a key listed as both is read-only (the narrower grant wins).
 */
export function createApiKeyMatcher(keys: readonly string[], readonlyKeys: readonly string[] = []) {
  const known = [...keys.map((k) => ({ k, scope: "write" as ApiKeyScope })), ...readonlyKeys.map((k) => ({ k, scope: "read" as ApiKeyScope }))].map(
    ({ k, scope }) => ({ hash: digest(k), id: digest(k).toString("hex").slice(0, 12), scope }),
  );
  return (presented: string | undefined): ApiKeyMatch | null => {
    if (!presented) return null;
    const h = digest(presented);
    let found: ApiKeyMatch | null = null;
    for (const k of known) if (timingSafeEqual(k.hash, h) && found?.scope !== "read") found = { id: k.id, scope: k.scope };
    return found;
  };
}

/** The methods a read-only key may use: they change nothing (HTTP's safe methods, OPTIONS aside: no CORS here). */
const READ_METHODS = new Set(["GET", "HEAD"]);

/**
 * The scope check, keyed on the HTTP method alone so that every endpoint added under /api/v1 later is covered without
 * a list to keep: a read-only key gets 403 `forbidden` for anything but GET/HEAD, before any handler or body parser.
 */
export const requireScope: RequestHandler = (req, _res, next) => {
  if (req.apiKeyScope === "read" && !READ_METHODS.has(req.method))
    return next(new AppError("forbidden", `this API key is read-only (API_KEYS_READONLY): ${req.method} needs a key from API_KEYS`));
  next();
};
