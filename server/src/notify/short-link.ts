import { sql } from "@oa-notify/db";
import { Router } from "express";
import type { AppDeps } from "../deps.ts";
import { notFound } from "../lib/errors.ts";
import { isLineUserId } from "../lib/ids.ts";
import { signViewToken } from "../lib/view-token.ts";

/**
 * The short next-step link in an SMS: `${PUBLIC_BASE_URL}/n/<code>`, `<code>` = the notification id's 16 bytes in
 * base64url (22 characters). The id is a random uuid v4 (122 random bits), so the code is as unguessable as a
 * token; no table is needed. A Chinese SMS is UCS-2 (70 characters, 67 per part when split), so the ~250-character
 * LIFF URL with its JWT view token used to cost several extra SMS parts per notice.
 */
export function shortCode(notificationId: string): string {
  return Buffer.from(notificationId.replace(/-/g, ""), "hex").toString("base64url");
}

/** The notification id for a code, or null for anything that is not the canonical encoding of 16 bytes. */
export function idFromShortCode(code: string): string | null {
  if (!/^[A-Za-z0-9_-]{22}$/.test(code)) return null;
  const bytes = Buffer.from(code, "base64url");
  // The last character carries 2 spare bits: only the canonical spelling is accepted (one code per notification).
  if (bytes.length !== 16 || bytes.toString("base64url") !== code) return null;
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function shortLink(publicBaseUrl: string, notificationId: string): string {
  return `${publicBaseUrl}/n/${shortCode(notificationId)}`;
}

/** The link lives as long as the view token a LINE button carries (30 days): an old SMS must not open pages forever. */
export const SHORT_LINK_TTL_SECONDS = 30 * 24 * 3600;

/**
 * GET /n/:code (no auth): a fresh view token and a 302 to the LIFF next-step page (in sandbox mode to the LIFF app
 * this server serves at /liff, since liff.line.me cannot open a laptop's sandbox). Anything unknown is a plain 404
 * that says nothing about why. The redirect itself is not a "seen": a link preview or a crawler follows redirects;
 * the page view (markSeen via the LIFF API) is what counts.
 */
export function shortLinkRouter(deps: Pick<AppDeps, "db" | "clock" | "config">): Router {
  const r = Router();
  r.get("/n/:code", async (req, res) => {
    const id = idFromShortCode(req.params.code);
    const now = deps.clock.now();
    const rows = id
      ? await deps.db.query<{ next_step: { type?: unknown; id?: unknown } | null; created_at: Date | string }>(
          sql`select next_step, created_at from notifications where id = ${id}`,
        )
      : [];
    const row = rows[0];
    const fresh = row && now.getTime() - new Date(row.created_at).getTime() <= SHORT_LINK_TTL_SECONDS * 1000;
    const step = row?.next_step;
    if (!id || !fresh || !step || (step.type !== "order" && step.type !== "bill") || typeof step.id !== "string") throw notFound("link");
    const token = await signViewToken(deps.config.appSecret, { nid: id, type: step.type, id: step.id }, now);
    const path = `${step.type === "order" ? "orders" : "bills"}/${encodeURIComponent(step.id)}?t=${token}`;
    // Sandbox: the console links the SMS as /n/<code>?sandboxUser=<id>; the LIFF app needs that simulated user.
    const user = isLineUserId(req.query["sandboxUser"]) ? req.query["sandboxUser"] : null;
    const location = deps.config.sandbox ? `/liff/${path}${user ? `&sandboxUser=${user}` : ""}` : `https://liff.line.me/${deps.config.line.liffId}/${path}`;
    res.set("cache-control", "no-store").redirect(302, location);
  });
  return r;
}
