import { type SQL, sql } from "@oa-notify/db";
import { allSmsCostSql, costSql, type Prices, roundTwd } from "../notify/cost.ts";

/**
 * The figures of a set of notifications (a period, a bucket of a series, a use case), as ONE select list over
 * `notifications`, so /stats, /stats/series and /stats?groupBy=scenario are the same arithmetic: the cost rule is
 * notify/cost.ts, the funnel's definitions are here.
 */
export function figuresSelect(p: Prices): SQL {
  const cost = costSql(p);
  return sql`count(*) as total,
    count(*) filter (where sms_sent_at is not null) as sms_sent,
    coalesce(sum(coalesce(sms_parts, 1)) filter (where sms_sent_at is not null), 0) as sms_parts,
    coalesce(sum(${cost.push}), 0) as cost_push, coalesce(sum(${cost.pnp}), 0) as cost_pnp, coalesce(sum(${cost.sms}), 0) as cost_sms,
    coalesce(sum(${allSmsCostSql(p)}), 0) as cost_all_sms,
    count(*) filter (where channel = 'push') as ch_push,
    count(*) filter (where channel = 'pnp') as ch_pnp,
    count(*) filter (where channel = 'sms') as ch_sms,
    count(*) filter (where channel is null or channel = 'none') as ch_other,
    count(*) filter (where channel in ('push', 'pnp')) as line_routed,
    count(*) filter (where channel in ('push', 'pnp') and sms_sent_at is not null) as fell_back,
    count(*) filter (where status = 'delivered_late') as late,
    count(*) filter (where sent_at is not null or sms_sent_at is not null) as f_sent,
    count(*) filter (where delivered_at is not null or status in ('delivered', 'delivered_late')) as f_delivered,
    count(*) filter (where status = 'undelivered') as f_undelivered,
    count(*) filter (where status in ('failed', 'undeliverable')) as f_failed,
    count(*) filter (where status = 'cancelled') as f_cancelled,
    count(*) filter (where status in ('accepted', 'queued', 'sent', 'fallback_sms')) as f_pending`;
}

export interface Figures {
  total: number;
  costTwd: { push: number; pnp: number; sms: number; total: number };
  /** SMS are billed per part (PRICE_SMS_TWD each): the parts the period's SMS took. */
  smsParts: number;
  allSmsCostTwd: number;
  savedTwd: number;
  fallback: { lineRouted: number; fellBackToSms: number; rate: number };
  deliveredLate: number;
  /** A funnel, not a partition: docs/api.md, GET /stats. */
  funnel: { accepted: number; sent: number; delivered: number; smsSent: number; undelivered: number; failed: number; cancelled: number; pending: number };
  /** the channel responsible now (null and "none" are `other`) */
  channels: { push: number; pnp: number; sms: number; other: number };
}

export const rate = (part: number, whole: number) => (whole ? Math.round((part / whole) * 10_000) / 10_000 : 0);

/** A row selected with figuresSelect, as numbers (PostgreSQL's count and sum come back as strings). */
export function toFigures(row: Record<string, unknown> | undefined): Figures {
  const n = (k: string) => Number(row?.[k] ?? 0);
  const spent = { push: roundTwd(n("cost_push")), pnp: roundTwd(n("cost_pnp")), sms: roundTwd(n("cost_sms")) };
  const total = roundTwd(spent.push + spent.pnp + spent.sms);
  const allSms = roundTwd(n("cost_all_sms"));
  return {
    total: n("total"),
    costTwd: { ...spent, total },
    smsParts: n("sms_parts"),
    allSmsCostTwd: allSms,
    savedTwd: roundTwd(allSms - total),
    fallback: { lineRouted: n("line_routed"), fellBackToSms: n("fell_back"), rate: rate(n("fell_back"), n("line_routed")) },
    deliveredLate: n("late"),
    funnel: {
      accepted: n("total"),
      sent: n("f_sent"),
      delivered: n("f_delivered"),
      smsSent: n("sms_sent"),
      undelivered: n("f_undelivered"),
      failed: n("f_failed"),
      cancelled: n("f_cancelled"),
      pending: n("f_pending"),
    },
    channels: { push: n("ch_push"), pnp: n("ch_pnp"), sms: n("ch_sms"), other: n("ch_other") },
  };
}

/** `created_at` in [from, to) */
export const createdIn = (from: Date, to: Date) => sql`created_at >= ${from.toISOString()}::timestamptz and created_at < ${to.toISOString()}::timestamptz`;
