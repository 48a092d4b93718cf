import { type Db, type DbOrTx, sql } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { AppError } from "../lib/errors.ts";
import { lastGrantVersion, ledger } from "./binding.ts";
import { CURRENT_CONSENT_NOTICE_VERSION } from "./consent.ts";

type Rows<T> = { rows: T[] };
const rows = async <T>(db: DbOrTx, q: ReturnType<typeof sql>): Promise<T[]> => ((await db.execute(q)) as unknown as Rows<T>).rows;

export interface ConsentRow {
  id: number;
  at: string;
  action: string;
  purpose: string;
  noticeVersion: string;
  method: string;
  lineUserId: string | null;
  detail: unknown;
}

/** The member's LINE permission as routing sees it: "withdrawn" (no push, no PNP), "granted", or "none" (never decided). */
export interface LineConsent {
  state: "withdrawn" | "granted" | "none";
  since: string | null;
}

export async function lineConsent(db: DbOrTx, memberId: string): Promise<LineConsent> {
  const r = await rows<{ action: string; at: Date | string }>(
    db,
    sql`select action, at from consent_ledger where member_id = ${memberId} and method <> 'rebind' order by id desc limit 1`,
  );
  const last = r[0];
  if (!last) return { state: "none", since: null };
  return { state: last.action === "withdraw" ? "withdrawn" : "granted", since: new Date(last.at).toISOString() };
}

/** The member's ledger, newest first (GET /api/v1/members/:id/consents). */
export async function consentLedgerOf(db: DbOrTx, memberId: string): Promise<ConsentRow[]> {
  const r = await rows<{
    id: number | string;
    at: Date | string;
    action: string;
    purpose: string;
    notice_version: string;
    method: string;
    line_user_id: string | null;
    detail: unknown;
  }>(db, sql`select * from consent_ledger where member_id = ${memberId} order by id desc limit 500`);
  return r.map((x) => ({
    id: Number(x.id),
    at: new Date(x.at).toISOString(),
    action: x.action,
    purpose: x.purpose,
    noticeVersion: x.notice_version,
    method: x.method,
    lineUserId: x.line_user_id,
    detail: x.detail ?? null,
  }));
}

/**
 * Customer service records a member's decision (method `admin`). A withdrawal also ends a LINE binding, so pushes
 * stop at once; from then on no LINE message goes to the member (routing reads the ledger) until a new grant. A grant
 * lifts the withdrawal (PNP by phone; push again once the member binds in LIFF).
 */
export async function recordAdminConsent(
  db: Db,
  { clock, memberId, action, reason }: { clock: Clock; memberId: string; action: "grant" | "withdraw"; reason?: string | undefined },
): Promise<LineConsent> {
  return db.transaction(async (tx) => {
    const now = clock.now();
    const m = await rows<{ line_user_id: string | null; erased_at: Date | string | null }>(
      tx,
      sql`select line_user_id, erased_at from members where member_id = ${memberId} for update`,
    );
    if (!m[0] || m[0].erased_at) throw new AppError("not_found", "member not found");
    const lineUserId = m[0].line_user_id;
    const detail = reason ? { reason } : undefined;
    if (action === "withdraw") {
      const version = await lastGrantVersion(tx, memberId, lineUserId);
      if (lineUserId)
        await tx.execute(
          sql`update members set line_user_id = null, bound_at = null, updated_at = ${now.toISOString()}::timestamptz where member_id = ${memberId}`,
        );
      await ledger(tx, { memberId, lineUserId, action: "withdraw", noticeVersion: version, method: "admin", at: now, detail });
    } else {
      await ledger(tx, { memberId, lineUserId, action: "grant", noticeVersion: CURRENT_CONSENT_NOTICE_VERSION, method: "admin", at: now, detail });
    }
    return lineConsent(tx, memberId);
  });
}
