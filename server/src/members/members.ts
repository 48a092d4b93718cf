import { and, type DbOrTx, eq, isNull, lineUsers, members, sql } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { AppError } from "../lib/errors.ts";
import { normalizePhone, phoneHash } from "../lib/phone.ts";

export interface MemberView {
  memberId: string;
  phone: string | null;
  name: string | null;
  lineUserId: string | null;
  friend: boolean;
  boundAt: string | null;
}

export async function upsertMember({
  db,
  clock,
  memberId,
  input,
}: {
  db: DbOrTx;
  clock: Clock;
  memberId: string;
  input: { phone: string; name?: string | undefined };
}): Promise<{ member: MemberView; created: boolean }> {
  const phone = normalizePhone(input.phone);
  if (!phone.ok) {
    throw new AppError("validation_failed", `body.phone: ${phone.reason}`, [{ field: "body.phone", message: phone.reason }]);
  }
  const now = clock.now();
  const res = (await db.execute(sql`
    insert into members (member_id, phone_e164, phone_hash, name, created_at, updated_at)
    values (${memberId}, ${phone.e164}, ${phoneHash(phone.e164)}, ${input.name ?? null}, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz)
    on conflict (member_id) do update set phone_e164 = excluded.phone_e164, phone_hash = excluded.phone_hash,
      name = coalesce(excluded.name, members.name), updated_at = excluded.updated_at, erased_at = null
    returning (xmax = 0) as created`)) as unknown as { rows: { created: boolean }[] };
  const member = await getMember({ db, memberId });
  return { member: member!, created: Boolean(res.rows[0]?.created) };
}

export async function getMember({ db, memberId }: { db: DbOrTx; memberId: string }): Promise<MemberView | null> {
  const rows = await db
    .select({
      memberId: members.memberId,
      phone: members.phoneE164,
      name: members.name,
      lineUserId: members.lineUserId,
      boundAt: members.boundAt,
      friend: lineUsers.friend,
    })
    .from(members)
    .leftJoin(lineUsers, eq(lineUsers.userId, members.lineUserId))
    .where(and(eq(members.memberId, memberId), isNull(members.erasedAt)))
    .limit(1);
  const r = rows[0];
  if (!r) return null;
  return {
    memberId: r.memberId,
    phone: r.phone,
    name: r.name,
    lineUserId: r.lineUserId,
    friend: Boolean(r.lineUserId && r.friend),
    boundAt: r.boundAt ? r.boundAt.toISOString() : null,
  };
}
