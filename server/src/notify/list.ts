import { type Database, notificationStatuses, notifications, routeChannels, type SQL, sql } from "@oa-notify/db";
import { z } from "zod";
import { AppError } from "../lib/errors.ts";
import { externalId } from "../lib/ids.ts";
import { maskPhone, normalizePhone, phoneHash } from "../lib/phone.ts";
import { typedRow } from "../lib/rows.ts";
import { isoDate, isoDateTime } from "../lib/validate.ts";

/*
 * GET /notifications (filters, keyset pages) and the filters the CSV export shares (export.ts). Pages walk
 * (created_at, id) downwards: a notification accepted while a client pages is newer than every page's cursor, so it
 * never shifts, repeats or hides the rows the client is walking (docs/api.md).
 */

const DAY_MS = 86_400_000;
/** A date-only bound is an Asia/Taipei calendar day (UTC+8, no DST): `from` its start, `to` the end of that day. */
export function rangeBound(v: string, end: boolean): Date {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const start = new Date(`${v}T00:00:00+08:00`);
    return end ? new Date(start.getTime() + DAY_MS) : start;
  }
  return new Date(v);
}

export const rangeQuery = {
  from: isoDateTime().or(isoDate()).optional(),
  to: isoDateTime().or(isoDate()).optional(),
};

export const listQuery = z
  .object({
    batchId: z.uuid().optional(),
    status: z.enum(notificationStatuses).optional(),
    channel: z.enum(routeChannels).optional(),
    scenario: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9_]+$/)
      .optional(),
    memberId: externalId.optional(),
    phone: z.string().min(1).max(40).optional(),
    ...rangeQuery,
    limit: z.coerce.number().int().min(1).max(500).default(20),
    cursor: z.string().min(1).max(200).optional(),
  })
  .strict();
export type ListQuery = z.infer<typeof listQuery>;

/** The WHERE of a filtered list (from inclusive, to exclusive). A bad phone or range is a 400 naming the field. */
export function filterSql(q: Omit<ListQuery, "limit" | "cursor">): SQL {
  const parts: SQL[] = [sql`true`];
  if (q.batchId) parts.push(sql`batch_id = ${q.batchId}`);
  if (q.status) parts.push(sql`status = ${q.status}`);
  if (q.channel) parts.push(sql`channel = ${q.channel}`);
  if (q.scenario) parts.push(sql`scenario = ${q.scenario}`);
  if (q.memberId) parts.push(sql`member_id = ${q.memberId}`);
  if (q.phone) {
    const p = normalizePhone(q.phone);
    if (!p.ok) throw new AppError("validation_failed", `query.phone: ${p.reason}`, [{ field: "query.phone", message: p.reason }]);
    parts.push(sql`phone_hash = ${phoneHash(p.e164)}`);
  }
  const from = q.from ? rangeBound(q.from, false) : null;
  const to = q.to ? rangeBound(q.to, true) : null;
  if (from && to && !(from < to))
    throw new AppError("validation_failed", "query.from: must be before query.to", [{ field: "query.from", message: "must be before to" }]);
  if (from) parts.push(sql`created_at >= ${from.toISOString()}::timestamptz`);
  if (to) parts.push(sql`created_at < ${to.toISOString()}::timestamptz`);
  return sql.join(parts, sql` and `);
}

const PG_TS = /^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;

/** 2026-02-31 matches the pattern but is no day PostgreSQL accepts. */
function realDay(ts: string): boolean {
  const [y, m, d] = ts.slice(0, 10).split("-").map(Number) as [number, number, number];
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** The opaque cursor: the last row's exact created_at (PostgreSQL's own text, microseconds kept) and id. */
function encodeCursor(ts: string, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString("base64url");
}
function decodeCursor(c: string): { ts: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(c, "base64url").toString());
    // Only what PostgreSQL itself printed (ISO DateStyle, years 1000–9999): a forged cursor is a 400, never a 500.
    if (Array.isArray(v) && typeof v[0] === "string" && PG_TS.test(v[0]) && realDay(v[0]) && z.uuid().safeParse(v[1]).success) return { ts: v[0], id: v[1] };
  } catch {
    /* below */
  }
  throw new AppError("validation_failed", "query.cursor: not a nextCursor from a previous page", [{ field: "query.cursor", message: "invalid" }]);
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export async function listNotifications(db: Database, q: ListQuery) {
  const after = q.cursor ? decodeCursor(q.cursor) : null;
  const rows = await db.query<Record<string, unknown>>(sql`
    select *, created_at::text as cursor_ts from notifications
    where ${filterSql(q)} ${after ? sql`and (created_at, id) < (${after.ts}::timestamptz, ${after.id}::uuid)` : sql``}
    order by created_at desc, id desc limit ${q.limit + 1}`);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    notifications: page.map((raw) => {
      const n = typedRow(notifications, raw);
      return {
        id: n.id,
        status: n.status,
        channel: n.channel,
        scenario: n.scenario,
        urgency: n.urgency,
        rule: (n.route as { rule?: string } | null)?.rule ?? null,
        memberId: n.memberId,
        phone: maskPhone(n.phoneE164),
        batchId: n.batchId,
        sendAt: iso(n.sendAt),
        createdAt: n.createdAt.toISOString(),
        deliveredAt: iso(n.deliveredAt),
        smsSentAt: iso(n.smsSentAt),
      };
    }),
    nextCursor: rows.length > q.limit && last ? encodeCursor(String(last["cursor_ts"]), String(last["id"])) : null,
  };
}

/** GET /batches/:id: the batch's notifications counted by status (its progress), or null when it has none. */
export async function batchSummary(db: Database, id: string) {
  const rows = await db.query<{ status: string; n: string; first: string; last: string }>(sql`
    select status, count(*) as n, to_char(min(created_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as first,
      to_char(max(updated_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last from notifications where batch_id = ${id} group by status`);
  if (rows.length === 0) return null;
  const byStatus: Record<string, number> = Object.fromEntries(notificationStatuses.map((s) => [s, 0]));
  let total = 0;
  for (const r of rows) {
    byStatus[r.status] = Number(r.n);
    total += Number(r.n);
  }
  const pending = byStatus["accepted"]! + byStatus["queued"]! + byStatus["sent"]! + byStatus["fallback_sms"]!;
  return {
    batchId: id,
    total,
    byStatus,
    pending,
    done: total - pending,
    createdAt: new Date(rows.map((r) => Date.parse(String(r.first))).reduce((a, b) => Math.min(a, b))).toISOString(),
    updatedAt: new Date(rows.map((r) => Date.parse(String(r.last))).reduce((a, b) => Math.max(a, b))).toISOString(),
  };
}
