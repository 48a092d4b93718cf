import { type SQL, sql } from "@oa-notify/db";

export interface Prices {
  push: number;
  pnp: number;
  sms: number;
}

// LINE charges a PNP (and counts a push) when it was delivered: a delivery event, a 200 push, or a late delivery.
const lineDelivered = sql`(delivered_at is not null or status in ('delivered', 'delivered_late'))`;

/**
 * The one cost rule (NT$), as SQL expressions over a `notifications` row, so the per-notification figure
 * (GET /notifications/:id) and every sum in the stats are the same arithmetic:
 * push and PNP are charged when delivered, an SMS when it was sent, per billed part (`sms_parts`, counted from the
 * text that went out; a row from before the count is one part). Sum them for a period; add them for a row.
 */
export function costSql(p: Prices): { push: SQL; pnp: SQL; sms: SQL } {
  return {
    push: sql`(case when channel = 'push' and ${lineDelivered} then ${p.push}::numeric else 0 end)`,
    pnp: sql`(case when channel = 'pnp' and ${lineDelivered} then ${p.pnp}::numeric else 0 end)`,
    sms: sql`(case when sms_sent_at is not null then coalesce(sms_parts, 1) * ${p.sms}::numeric else 0 end)`,
  };
}

/** What the same notices would have cost by SMS alone: every one that had a phone number and was not cancelled. */
export function allSmsCostSql(p: Prices): SQL {
  return sql`(case when phone_e164 is not null and status <> 'cancelled' then ${p.sms}::numeric else 0 end)`;
}

export const roundTwd = (n: number) => Math.round(n * 100) / 100;
