/**
 * What PostgreSQL can store. JSON allows things `text` and `jsonb` refuse: U+0000 (`\u0000`) and unpaired UTF-16
 * surrogates (`\ud800`) in any string, and nesting deep enough to exhaust a recursive parser (ours: JSON.stringify
 * and the request hash; the server's: jsonb input). Such a value used to reach the database and fail there with a
 * 500 (docs/threat-model.md, "client input"). The API refuses it with a 400 naming the field; the webhook, whose
 * sender is LINE, stores the event with those characters replaced (webhook/route.ts).
 */

/** Deeper than any real body: a LINE flex message nests ~12 levels, a webhook event ~5. */
export const MAX_JSON_DEPTH = 64;

// Code units: a high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_G = new RegExp(LONE_SURROGATE.source, "g");

/** The string with U+0000 and unpaired surrogates replaced by U+FFFD. */
function fixText(s: string): string {
  return s.split("\u0000").join("\uFFFD").replace(LONE_SURROGATE_G, "\uFFFD");
}

/** Why a string cannot be stored, or null. */
export function textProblem(s: string): string | null {
  if (s.includes("\u0000")) return "contains U+0000 (NUL), which cannot be stored";
  if (LONE_SURROGATE.test(s)) return "contains an unpaired UTF-16 surrogate (not valid Unicode)";
  return null;
}

export interface Unstorable {
  /** `body.messages.0.text`, `query.memberId`, … */
  field: string;
  message: string;
}

/**
 * The first place in a parsed JSON value (or query object) that cannot be stored: a bad string (as a value or as a
 * key) or nesting past `maxDepth`. Stops at the first problem, and at `maxDepth`, so it is cheap on hostile input.
 */
export function findUnstorable(value: unknown, where: string, maxDepth = MAX_JSON_DEPTH): Unstorable | null {
  const visit = (v: unknown, path: string, depth: number): Unstorable | null => {
    if (typeof v === "string") {
      const p = textProblem(v);
      return p ? { field: path, message: p } : null;
    }
    if (typeof v !== "object" || v === null) return null;
    if (depth >= maxDepth) return { field: path, message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const r = visit(v[i], `${path}.${i}`, depth + 1);
        if (r) return r;
      }
      return null;
    }
    for (const k of Object.keys(v)) {
      const kp = textProblem(k);
      if (kp) return { field: `${path}.${fixText(k)}`, message: `key ${kp}` };
      const r = visit((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
      if (r) return r;
    }
    return null;
  };
  return visit(value, where, 0);
}

/** Thrown by `storableCopy` for a value nested past the limit (the caller answers 400). */
export class TooDeep extends Error {
  override name = "TooDeep";
}

/**
 * A copy of a parsed JSON value that PostgreSQL can store: U+0000 and unpaired surrogates become U+FFFD (what a
 * UTF-8 decoder makes of bytes it cannot read). Returns the value itself when nothing needed replacing (the common
 * case costs one walk, no allocation). Keys are rebuilt as own properties, so `__proto__` stays data.
 */
export function storableCopy<T>(value: T, maxDepth = MAX_JSON_DEPTH): T {
  const visit = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return textProblem(v) ? fixText(v) : v;
    if (typeof v !== "object" || v === null) return v;
    if (depth >= maxDepth) throw new TooDeep(`nested deeper than ${maxDepth} levels`);
    if (Array.isArray(v)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < v.length; i++) {
        const c = visit(v[i], depth + 1);
        if (c !== v[i]) (out ??= v.slice())[i] = c;
      }
      return out ?? v;
    }
    let changed = false;
    const entries = Object.keys(v).map((k) => {
      const val = (v as Record<string, unknown>)[k];
      const ck = textProblem(k) ? fixText(k) : k;
      const cv = visit(val, depth + 1);
      if (ck !== k || cv !== val) changed = true;
      return [ck, cv] as const;
    });
    return changed ? Object.fromEntries(entries) : v;
  };
  return visit(value, 0) as T;
}
