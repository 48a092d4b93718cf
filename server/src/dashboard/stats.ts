import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../lib/errors.ts";
import { isoDate, isoDateTime, parseOr400 } from "../lib/validate.ts";
import { allSmsCostSql, costSql, roundTwd } from "../notify/cost.ts";

const query = z
  .object({
    from: isoDateTime().or(isoDate()).optional(),
    to: isoDateTime().or(isoDate()).optional(),
  })
  .strict();

/**
 * GET /stats?from&to (ISO dates or date-times; default: the last 30 days): notifications created in [from, to),
 * counted by channel and state, with NT$ spent per channel (config.prices: push and PNP are charged when delivered,
 * SMS when sent) against what the same notices would have cost by SMS alone.
 */
export function statsRouter(deps: AppDeps): Router {
  const r = Router();
  r.get("/stats", async (req, res) => {
    const q = parseOr400(query, req.query, "query");
    const to = q.to ? new Date(q.to) : deps.clock.now();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * 24 * 3600 * 1000);
    if (!(from < to)) throw new AppError("validation_failed", "query.from: must be before query.to", [{ field: "query.from", message: "must be before to" }]);
    const cost = costSql(deps.config.prices);
    const allSms = allSmsCostSql(deps.config.prices);
    const range = sql`created_at >= ${from.toISOString()}::timestamptz and created_at < ${to.toISOString()}::timestamptz`;
    const byState = await deps.db.query<{ channel: string | null; status: string; n: string | number }>(
      sql`select channel, status, count(*) as n from notifications where ${range} group by channel, status order by channel, status`,
    );
    const [t] = await deps.db.query<Record<string, string | number>>(sql`
      select count(*) as total,
        count(*) filter (where sms_sent_at is not null) as sms_sent,
        coalesce(sum(coalesce(sms_parts, 1)) filter (where sms_sent_at is not null), 0) as sms_parts,
        coalesce(sum(${cost.push}), 0) as cost_push, coalesce(sum(${cost.pnp}), 0) as cost_pnp, coalesce(sum(${cost.sms}), 0) as cost_sms,
        coalesce(sum(${allSms}), 0) as cost_all_sms,
        count(*) filter (where channel in ('push', 'pnp')) as line_routed,
        count(*) filter (where channel in ('push', 'pnp') and sms_sent_at is not null) as fell_back,
        count(*) filter (where status = 'delivered_late') as late,
        count(*) filter (where sent_at is not null or sms_sent_at is not null) as f_sent,
        count(*) filter (where delivered_at is not null or status in ('delivered', 'delivered_late')) as f_delivered,
        count(*) filter (where status = 'undelivered') as f_undelivered,
        count(*) filter (where status in ('failed', 'undeliverable')) as f_failed,
        count(*) filter (where status = 'cancelled') as f_cancelled,
        count(*) filter (where status in ('accepted', 'queued', 'sent', 'fallback_sms')) as f_pending
      from notifications where ${range}`);
    // Friends: a follow (latest one per user) in the period, an unfollow in the period, and add-friend prompts from
    // the LIFF app that converted in the period (one per user: several prompts convert at the same follow).
    const fr = sql`>= ${from.toISOString()}::timestamptz and`;
    const [f] = await deps.db.query<Record<string, string | number>>(sql`
      select (select count(*) from line_users where friend) as total,
        (select count(*) from line_users where followed_at ${fr} followed_at < ${to.toISOString()}::timestamptz) as gained,
        (select count(*) from line_users where unfollowed_at ${fr} unfollowed_at < ${to.toISOString()}::timestamptz) as lost,
        (select count(distinct line_user_id) from friend_prompts where converted_at ${fr} converted_at < ${to.toISOString()}::timestamptz) as conversions`);
    const n = (k: string) => Number(t?.[k] ?? 0);
    const p = deps.config.prices;
    const spent = { push: roundTwd(n("cost_push")), pnp: roundTwd(n("cost_pnp")), sms: roundTwd(n("cost_sms")) };
    const total = roundTwd(spent.push + spent.pnp + spent.sms);
    const allSmsTwd = roundTwd(n("cost_all_sms"));
    const byChannel: Record<string, { total: number; states: Record<string, number> }> = {};
    for (const row of byState) {
      const c = row.channel ?? "undecided";
      const e = (byChannel[c] ??= { total: 0, states: {} });
      e.states[row.status] = Number(row.n);
      e.total += Number(row.n);
    }
    res.json({
      from: from.toISOString(),
      to: to.toISOString(),
      total: n("total"),
      byChannel,
      costTwd: { ...spent, total },
      // SMS are billed per part (PRICE_SMS_TWD each): how many parts the SMS in the period took.
      smsParts: n("sms_parts"),
      allSmsCostTwd: allSmsTwd,
      savedTwd: roundTwd(allSmsTwd - total),
      prices: p,
      fallback: {
        lineRouted: n("line_routed"),
        fellBackToSms: n("fell_back"),
        rate: n("line_routed") ? Math.round((n("fell_back") / n("line_routed")) * 10_000) / 10_000 : 0,
      },
      deliveredLate: n("late"),
      // A funnel, not a partition: sent counts anything that left (LINE or SMS); delivered = delivered by LINE; a
      // delivered_late notice is in both delivered and smsSent; pending = not settled yet (incl. waiting for LINE).
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
      friends: {
        total: Number(f?.["total"] ?? 0),
        gainedInPeriod: Number(f?.["gained"] ?? 0),
        lostInPeriod: Number(f?.["lost"] ?? 0),
        conversionsFromPrompts: Number(f?.["conversions"] ?? 0),
      },
    });
  });
  return r;
}
