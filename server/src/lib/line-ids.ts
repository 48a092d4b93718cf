import { z } from "zod";

/** A LINE user id as webhooks and ID tokens carry it: "U" and 32 lowercase hex digits. */
export const LINE_USER_ID = /^U[0-9a-f]{32}$/;
export const isLineUserId = (v: unknown): v is string => typeof v === "string" && LINE_USER_ID.test(v);
export const lineUserIdSchema = z.string().regex(LINE_USER_ID, "a LINE user id (U + 32 hex)");
