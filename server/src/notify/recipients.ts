import { type DbOrTx, sql } from "@oa-notify/db";
import { lineWithdrawnAtSql } from "../members/consent.ts";

/** A recipient member as routing needs them: phone, LINE binding, friend now, blocked, LINE consent withdrawn. */
export interface MemberRow {
  member_id: string;
  phone_e164: string | null;
  line_user_id: string | null;
  friend: boolean | null;
  blocked: boolean | null;
  line_withdrawn_at: Date | string | null;
}

/**
 * SQL columns shared by acceptance (lookupMembers) and the worker's claim (worker.ts), over `m` (members) and `lu`
 * (line_users of the member's binding): routing is decided twice from the same facts.
 * blocked: the bound LINE user's latest follow/unfollow event is an unfollow (docs/routing.md).
 */
export const routingFactsSql = `coalesce(lu.friend, false) as friend,
  coalesce(lu.friend = false and lu.unfollowed_at is not null, false) as blocked,
  ${lineWithdrawnAtSql("m.member_id")} as line_withdrawn_at`;

export async function lookupMembers(db: DbOrTx, memberIds: string[]): Promise<Map<string, MemberRow>> {
  const out = new Map<string, MemberRow>();
  if (memberIds.length === 0) return out;
  const res = (await db.execute(sql`
    select m.member_id, m.phone_e164, m.line_user_id, ${sql.raw(routingFactsSql)}
    from members m left join line_users lu on lu.user_id = m.line_user_id
    where m.erased_at is null
      and m.member_id in (select value from json_array_elements_text(${JSON.stringify([...new Set(memberIds)])}::json))`)) as unknown as { rows: MemberRow[] };
  for (const r of res.rows) out.set(r.member_id, r);
  return out;
}

/** `order:o-1` / `bill:b-9` → the owning member id, for the next steps that exist. */
export async function lookupNextStepOwners(db: DbOrTx, steps: { type: "order" | "bill"; id: string }[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ids = (type: string) => JSON.stringify([...new Set(steps.filter((s) => s.type === type).map((s) => s.id))]);
  if (steps.some((s) => s.type === "order")) {
    const res = (await db.execute(sql`select order_id as id, member_id from orders
      where order_id in (select value from json_array_elements_text(${ids("order")}::json))`)) as unknown as { rows: { id: string; member_id: string }[] };
    for (const r of res.rows) out.set(`order:${r.id}`, r.member_id);
  }
  if (steps.some((s) => s.type === "bill")) {
    const res = (await db.execute(sql`select bill_id as id, member_id from bills
      where bill_id in (select value from json_array_elements_text(${ids("bill")}::json))`)) as unknown as { rows: { id: string; member_id: string }[] };
    for (const r of res.rows) out.set(`bill:${r.id}`, r.member_id);
  }
  return out;
}
