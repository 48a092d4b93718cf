import { type Database, notifications, sql } from "@oa-notify/db";
import type { Response } from "express";
import { z } from "zod";
import type { Config } from "../env.ts";
import { typedRow } from "../lib/rows.ts";
import { costSql, roundTwd } from "./cost.ts";
import { filterSql, listQuery } from "./list.ts";

/*
 * GET /notifications/export?from=&to=&format=csv (and the list's other filters): every matching notification as
 * CSV, streamed. Rows are read in keyset pages of PAGE (created_at, id) and each page is written before the next
 * is read, waiting for the socket to drain, so memory stays flat whatever the row count (bench:export measures it).
 * UTF-8 with a BOM so that Excel (zh-TW) opens it as UTF-8; the phone keeps only its last 3 digits.
 */

const PAGE = 2000;
export const exportQuery = listQuery.omit({ limit: true, cursor: true }).extend({ format: z.enum(["csv"]).default("csv") });
export type ExportQuery = z.infer<typeof exportQuery>;

const COLUMNS = [
  "id",
  "created_at",
  "status",
  "channel",
  "scenario",
  "urgency",
  "member_id",
  "phone",
  "batch_id",
  "send_at",
  "sent_at",
  "delivered_at",
  "sms_sent_at",
  "cost_twd",
] as const;

/** A CSV field: quoted when needed; a leading = + - @ (a spreadsheet formula) is neutralised with a quote mark. */
export function csvField(v: string | number | null): string {
  if (v === null) return "";
  let s = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
/** The last 3 digits only. */
export const phoneLast3 = (e164: string | null) => (e164 ? `*****${e164.slice(-3)}` : null);
const iso = (d: Date | null) => (d ? d.toISOString() : null);

export async function exportCsv(deps: { db: Database; config: Pick<Config, "prices"> }, q: ExportQuery, res: Response): Promise<number> {
  const where = filterSql(q); // a bad filter is a 400 before anything is written
  const c = costSql(deps.config.prices);
  const name = `notifications${q.from ? `-${q.from.slice(0, 10)}` : ""}${q.to ? `-${q.to.slice(0, 10)}` : ""}.csv`;
  res.status(200).set({ "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}"`, "cache-control": "no-store" });
  const write = async (chunk: string) => {
    if (res.write(chunk) || res.destroyed) return;
    // Wait for the socket to take it, or for the client to go away (then the walk stops).
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off("drain", done);
        res.off("close", done);
        resolve();
      };
      res.on("drain", done);
      res.on("close", done);
    });
  };
  try {
    return await walk();
  } catch (err) {
    // The status line is gone: the only way to tell the client the file is incomplete is to cut the connection.
    res.destroy();
    throw err;
  }

  async function walk(): Promise<number> {
    await write(`\uFEFF${COLUMNS.join(",")}\r\n`);
    let after: { ts: string; id: string } | null = null;
    let count = 0;
    for (;;) {
      const rows: Record<string, unknown>[] = await deps.db.query<Record<string, unknown>>(sql`
      select id, created_at, status, channel, scenario, urgency, member_id, phone_e164, batch_id, send_at, sent_at, delivered_at,
        sms_sent_at, ${c.push} + ${c.pnp} + ${c.sms} as cost_twd, created_at::text as cursor_ts
      from notifications
      where ${where} ${after ? sql`and (created_at, id) > (${after.ts}::timestamptz, ${after.id}::uuid)` : sql``}
      order by created_at, id limit ${PAGE}`);
      if (rows.length === 0) break;
      let out = "";
      for (const raw of rows) {
        const n = typedRow(notifications, raw);
        out += `${[
          n.id,
          n.createdAt.toISOString(),
          n.status,
          n.channel,
          n.scenario,
          n.urgency,
          n.memberId,
          phoneLast3(n.phoneE164),
          n.batchId,
          iso(n.sendAt),
          iso(n.sentAt),
          iso(n.deliveredAt),
          iso(n.smsSentAt),
          roundTwd(Number(raw["cost_twd"])),
        ]
          .map(csvField)
          .join(",")}\r\n`;
      }
      await write(out);
      count += rows.length;
      const last = rows[rows.length - 1]!;
      after = { ts: String(last["cursor_ts"]), id: String(last["id"]) };
      if (rows.length < PAGE || res.destroyed) break;
    }
    res.end();
    return count;
  }
}
