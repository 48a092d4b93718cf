import type { z } from "zod";
import { AppError } from "./errors.ts";

/** Parses with zod; a failure becomes a 400 naming every bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where = "body"): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => ({ field: [where, ...i.path].join("."), message: i.message }));
  const first = details[0];
  throw new AppError("validation_failed", first ? `${first.field}: ${first.message}` : `invalid ${where}`, details);
}
