import { type Db, type DbOrTx, sql } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { AppError } from "../lib/errors.ts";
import { lastGrantVersion, ledger } from "./binding.ts";

type Rows<T> = { rows: T[] };
const rows = async <T>(db: DbOrTx, q: ReturnType<typeof sql>): Promise<T[]> => ((await db.execute(q)) as unknown as Rows<T>).rows;

/**
 * DELETE /api/v1/members/:id (個資法: the member's right to erasure; docs/api.md). The phone, its hash and the name
 * are erased, the binding ends with a ledger row (method "erasure"), and the member's notifications lose their phone
 * numbers. The member id stays as a pseudonym so the ledger and the notification states (and costs) still add up;
 * the ledger is append-only and never held a phone number. A notice still pending for the member can then reach
 * nobody and ends undeliverable; new notices for the id are refused (unknown member).
 */
export async function eraseMember(db: Db, { clock, memberId }: { clock: Clock; memberId: string }): Promise<{ notifications: number }> {
  return db.transaction(async (tx) => {
    const now = clock.now().toISOString();
    const m = await rows<{ line_user_id: string | null; phone_hash: string | null; erased_at: unknown }>(
      tx,
      sql`select line_user_id, phone_hash, erased_at from members where member_id = ${memberId} for update`,
    );
    const member = m[0];
    if (!member || member.erased_at) throw new AppError("not_found", "member not found");
    const version = await lastGrantVersion(tx, memberId, member.line_user_id);
    await ledger(tx, {
      memberId,
      lineUserId: member.line_user_id,
      action: "withdraw",
      noticeVersion: version,
      method: "erasure",
      at: clock.now(),
      detail: { reason: "member_erased" },
    });
    await tx.execute(sql`update members set phone_e164 = null, phone_hash = null, name = null, line_user_id = null, bound_at = null,
      erased_at = ${now}::timestamptz, updated_at = ${now}::timestamptz where member_id = ${memberId}`);
    const n = await rows<{ id: string }>(
      tx,
      sql`update notifications set phone_e164 = null, phone_hash = null, updated_at = ${now}::timestamptz
      where member_id = ${memberId} and (phone_e164 is not null or phone_hash is not null) returning id`,
    );
    if (member.phone_hash) await tx.execute(sql`delete from otp_challenges where phone_hash = ${member.phone_hash}`);
    return { notifications: n.length };
  });
}

/**
 * RETENTION_DAYS (default 400): notifications created longer ago than that, and settled, lose their phone numbers
 * and message content; their states, timeline, route and costs stay for the stats. OTP challenges that old go.
 * Run by the worker periodically (worker.ts) and idempotent: a purged row is not touched again.
 */
export async function purgeExpired(db: DbOrTx, { clock, retentionDays }: { clock: Clock; retentionDays: number }): Promise<{ notifications: number }> {
  const now = clock.now();
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
  const n = await rows<{ id: string }>(
    db,
    sql`update notifications set phone_e164 = null, phone_hash = null, content = '{}'::jsonb, sms = null,
      purged_at = ${now.toISOString()}::timestamptz, updated_at = ${now.toISOString()}::timestamptz
    where created_at < ${cutoff}::timestamptz and purged_at is null and due_at is null
      and status in ('delivered', 'sms_sent', 'delivered_late', 'undelivered', 'undeliverable', 'failed', 'cancelled')
    returning id`,
  );
  await db.execute(sql`delete from otp_challenges where created_at < ${cutoff}::timestamptz`);
  return { notifications: n.length };
}
