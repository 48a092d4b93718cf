import { z } from "zod";

/**
 * The business's own ids (members, orders, bills): what a URL path segment and a log line can carry safely.
 * One schema for every route and body that takes such an id.
 */
export const externalId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, "letters, digits and . _ : @ - only");

/** A LINE user id as webhooks and ID tokens carry it: "U" and 32 lowercase hex digits. */
export const LINE_USER_ID = /^U[0-9a-f]{32}$/;
export const isLineUserId = (v: unknown): v is string => typeof v === "string" && LINE_USER_ID.test(v);
export const lineUserIdSchema = z.string().regex(LINE_USER_ID, "a LINE user id (U + 32 hex)");
