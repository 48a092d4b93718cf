import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { DbOrTx } from "@oa-notify/db";
import type { PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { acceptRows } from "./transitions.ts";

/** The node-postgres connection under a drizzle transaction; null on PGlite (which keeps the INSERT path). */
export function pgClientOf(tx: DbOrTx): PoolClient | null {
  const client = (tx as unknown as { session?: { client?: unknown } }).session?.client as PoolClient | undefined;
  // Only a checked-out connection (a transaction's), never the pool: COPY must run on the transaction's connection.
  return client && typeof client.query === "function" && typeof client.release === "function" ? client : null;
}

const COLUMNS = [
  "id",
  "api_key_id",
  "idempotency_key",
  "request_hash",
  "batch_id",
  "member_id",
  "phone_e164",
  "phone_hash",
  "line_user_id",
  "scenario",
  "urgency",
  "content",
  "next_step",
  "sms",
  "route",
  "channel",
  "ignore_line",
  "send_at",
] as const;
const JSON_COLUMNS = new Set(["content", "next_step", "sms", "route"]);

/** One field of COPY's text format: `\N` for NULL, backslash escapes for the characters that delimit. */
function field(v: unknown, json: boolean): string {
  if (v === null || v === undefined) return "\\N";
  const s = json ? JSON.stringify(v) : String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : s;
}

async function copy(client: PoolClient, statement: string, lines: string[]): Promise<void> {
  await pipeline(Readable.from([Buffer.from(lines.join(""))]), client.query(copyFrom(statement)));
}

/**
 * The `accept` write of a batch chunk through PostgreSQL COPY (docs/decisions/0018-batch-copy.md): the rows and
 * their `accepted` timeline entries stream in with two COPY statements on the batch's transaction, so they commit
 * with it, before the 202. COPY has no ON CONFLICT: only rows without an Idempotency-Key go this way (a fresh UUID
 * and a NULL key cannot conflict); keyed rows keep the INSERT … ON CONFLICT DO NOTHING path (acceptRows). With status
 * callbacks configured the batch writer does not use it: acceptRows writes each row's outbox entry in its statement.
 */
export async function copyAcceptRows(client: PoolClient, tx: DbOrTx, rows: Record<string, unknown>[], at: string): Promise<string[]> {
  const plain = rows.filter((r) => r["idempotency_key"] == null);
  const keyed = rows.filter((r) => r["idempotency_key"] != null);
  const ids: string[] = [];
  if (plain.length > 0) {
    // As acceptRows: a scheduled notice (sendAt) is first due at its send time, and its timeline says so.
    await copy(
      client,
      `copy notifications (${COLUMNS.join(", ")}, status, due_at, created_at, updated_at) from stdin`,
      plain.map((r) => `${COLUMNS.map((c) => field(r[c], JSON_COLUMNS.has(c))).join("\t")}\taccepted\t${field(r["send_at"] ?? at, false)}\t${at}\t${at}\n`),
    );
    await copy(
      client,
      "copy notification_events (notification_id, at, state, detail) from stdin",
      plain.map((r) => `${r["id"]}\t${at}\taccepted\t${r["send_at"] == null ? "\\N" : field({ scheduledFor: r["send_at"] }, true)}\n`),
    );
    for (const r of plain) ids.push(String(r["id"]));
  }
  if (keyed.length > 0) ids.push(...(await acceptRows(tx, keyed, at)));
  return ids;
}
