import { type Db, sql } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { AppError } from "../lib/errors.ts";
import { checkOtp, consumeOtp } from "./binding.ts";

/**
 * LIFF settings: a bound member changes their phone number, proven by an OTP sent to the new number (the sales kit:
 * 定期請會員更新手機號碼). The code was requested with purpose "phone_change" (binding.ts requestOtp); here it is
 * checked against this LINE user's challenge for that number, consumed, and the member's phone replaced.
 */
export async function changePhone(
  db: Db,
  { clock, appSecret, lineUserId, phone, code }: { clock: Clock; appSecret: string; lineUserId: string; phone: { e164: string; hash: string }; code: string },
): Promise<{ memberId: string }> {
  const member = await boundMember(db, lineUserId);
  const challengeId = await checkOtp(db, { clock, appSecret, lineUserId, phoneHash: phone.hash, code });
  return db.transaction(async (tx) => {
    if (!(await consumeOtp(tx, { clock, challengeId }))) throw new AppError("conflict", "this code has already been used");
    const now = clock.now().toISOString();
    const r = (await tx.execute(sql`update members set phone_e164 = ${phone.e164}, phone_hash = ${phone.hash}, updated_at = ${now}::timestamptz
      where member_id = ${member} and line_user_id = ${lineUserId} returning member_id`)) as unknown as { rows: { member_id: string }[] };
    if (!r.rows[0]) throw new AppError("conflict", "the binding changed meanwhile; please try again");
    return { memberId: member };
  });
}

/** The member bound to this LINE user, or 404. */
export async function boundMember(db: Db, lineUserId: string): Promise<string> {
  const r = (await db.execute(sql`select member_id from members where line_user_id = ${lineUserId}`)) as unknown as { rows: { member_id: string }[] };
  if (!r.rows[0]) throw new AppError("not_found", "binding not found");
  return r.rows[0].member_id;
}
