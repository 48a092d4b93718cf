import type { RequestHandler } from "express";
import { z } from "zod";
import { AppError } from "./errors.ts";
import { findUnstorable } from "./storable.ts";

/** Parses with zod; a failure becomes a 400 naming every bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where = "body"): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => ({ field: [where, ...i.path].join("."), message: i.message }));
  const first = details[0];
  throw new AppError("validation_failed", first ? `${first.field}: ${first.message}` : `invalid ${where}`, details);
}

/**
 * After a JSON body parser: a body PostgreSQL could not store (U+0000, an unpaired surrogate, nesting past
 * MAX_JSON_DEPTH) is a 400 naming the field, before any handler runs (lib/storable.ts).
 */
export const storableBody: RequestHandler = (req, _res, next) => {
  const bad = findUnstorable(req.body, "body");
  next(bad ? new AppError("validation_failed", `${bad.field}: ${bad.message}`, [bad]) : undefined);
};

/** The same for the query string, app-wide. */
export const storableQuery: RequestHandler = (req, _res, next) => {
  const bad = findUnstorable(req.query, "query", 8);
  next(bad ? new AppError("validation_failed", `${bad.field}: ${bad.message}`, [bad]) : undefined);
};

// ISO 8601 lets a client write year 0000, which PostgreSQL's timestamptz refuses ("out of range": a 500 before).
const storableYear = (s: string) => {
  const t = Date.parse(s);
  // 0001-01-01T00:00Z ≤ t < 10000-01-01T00:00Z, in UTC (an offset can move a date across either end).
  return t >= -62135596800000 && t < 253402300800000;
};
/** An ISO date-time with an offset, years 0001–9999 (what timestamptz and JavaScript's Date both hold). */
export const isoDateTime = () => z.iso.datetime({ offset: true }).refine(storableYear, "a year from 0001 to 9999");
/** An ISO date (YYYY-MM-DD), years 0001–9999. */
export const isoDate = () => z.iso.date().refine(storableYear, "a year from 0001 to 9999");
