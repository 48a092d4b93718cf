import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { defineOperations, isoString, mount } from "../lib/openapi.ts";
import { instantParam, queryPeriod } from "../lib/taipei.ts";
import { parseOr400 } from "../lib/validate.ts";
import { createdIn, figuresSelect, toFigures } from "./figures.ts";

const query = z
  .object({
    from: instantParam(),
    to: instantParam(),
    groupBy: z.enum(["scenario"]).optional(),
  })
  .strict();

const int = () => z.number().int();
const twd = () => z.number().meta({ description: "NT$" });
/** Figures as dashboard/figures.ts computes them (per period, per bucket, per scenario). */
export const figuresSchema = z.looseObject({
  total: int(),
  costTwd: z.looseObject({ push: twd(), pnp: twd(), sms: twd(), total: twd() }),
  allSmsCostTwd: twd(),
  savedTwd: twd(),
  fallback: z.looseObject({ lineRouted: int(), fellBackToSms: int(), rate: z.number() }),
  deliveredLate: int(),
  funnel: z.looseObject({
    accepted: int(),
    sent: int(),
    delivered: int(),
    smsSent: int(),
    undelivered: int(),
    failed: int(),
    cancelled: int(),
    pending: int(),
  }),
});

/** GET /stats's contract (lib/openapi.ts). */
export const statsOperations = defineOperations({
  getStats: {
    operationId: "getStats",
    method: "get",
    path: "/stats",
    tag: "stats",
    summary: "Counts, delivery funnel, NT$ per channel and friends for a period",
    description:
      "Notifications created in [from, to): ISO date-times, or dates meaning Asia/Taipei days (default: the last 30 days). `groupBy=scenario` adds `byScenario`.",
    request: { query },
    responses: {
      200: {
        description: "the period's figures",
        schema: figuresSchema.extend({
          from: isoString(),
          to: isoString(),
          byChannel: z.record(z.string(), z.object({ total: int(), states: z.record(z.string(), int()) }).strict()),
          prices: z.object({ push: twd(), pnp: twd(), sms: twd() }).strict(),
          friends: z.object({ total: int(), gainedInPeriod: int(), lostInPeriod: int(), conversionsFromPrompts: int() }).strict(),
          byScenario: z.array(figuresSchema.extend({ scenario: z.string() })).optional(),
        }),
      },
    },
  },
});

/**
 * GET /stats?from&to[&groupBy=scenario] (ISO date-times, or dates = Asia/Taipei days; default: the last 30 days):
 * notifications created in [from, to), counted by channel and state, with NT$ spent per channel (config.prices: push
 * and PNP are charged when delivered, SMS when sent) against what the same notices would have cost by SMS alone.
 * `groupBy=scenario` adds `byScenario`: every figure again per use case (scenario), most notices first.
 */
export function statsRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, statsOperations.getStats, async (req, res) => {
    const q = parseOr400(query, req.query, "query");
    const { from, to } = queryPeriod(q, deps.clock.now(), 30);
    const range = createdIn(from, to);
    const byState = await deps.db.query<{ channel: string | null; status: string; n: string | number }>(
      sql`select channel, status, count(*) as n from notifications where ${range} group by channel, status order by channel, status`,
    );
    const [t] = await deps.db.query<Record<string, string | number>>(sql`select ${figuresSelect(deps.config.prices)} from notifications where ${range}`);
    // Friends: a follow (latest one per user) in the period, an unfollow in the period, and add-friend prompts from
    // the LIFF app that converted in the period (one per user: several prompts convert at the same follow).
    const fr = sql`>= ${from.toISOString()}::timestamptz and`;
    const [f] = await deps.db.query<Record<string, string | number>>(sql`
      select (select count(*) from line_users where friend) as total,
        (select count(*) from line_users where followed_at ${fr} followed_at < ${to.toISOString()}::timestamptz) as gained,
        (select count(*) from line_users where unfollowed_at ${fr} unfollowed_at < ${to.toISOString()}::timestamptz) as lost,
        (select count(distinct line_user_id) from friend_prompts where converted_at ${fr} converted_at < ${to.toISOString()}::timestamptz) as conversions`);
    const { channels: _channels, ...fig } = toFigures(t);
    const byChannel: Record<string, { total: number; states: Record<string, number> }> = {};
    for (const row of byState) {
      const c = row.channel ?? "undecided";
      const e = (byChannel[c] ??= { total: 0, states: {} });
      e.states[row.status] = Number(row.n);
      e.total += Number(row.n);
    }
    let byScenario: ({ scenario: string } & ReturnType<typeof toFigures>)[] | undefined;
    if (q.groupBy === "scenario") {
      const rows = await deps.db.query<Record<string, string | number>>(
        sql`select scenario, ${figuresSelect(deps.config.prices)} from notifications where ${range} group by scenario order by count(*) desc, scenario`,
      );
      byScenario = rows.map((row) => ({ scenario: String(row["scenario"]), ...toFigures(row) }));
    }
    res.json({
      from: from.toISOString(),
      to: to.toISOString(),
      total: fig.total,
      byChannel,
      costTwd: fig.costTwd,
      // SMS are billed per part (PRICE_SMS_TWD each): how many parts the SMS in the period took.
      smsParts: fig.smsParts,
      allSmsCostTwd: fig.allSmsCostTwd,
      savedTwd: fig.savedTwd,
      prices: deps.config.prices,
      fallback: fig.fallback,
      deliveredLate: fig.deliveredLate,
      // A funnel, not a partition: sent counts anything that left (LINE or SMS); delivered = delivered by LINE; a
      // delivered_late notice is in both delivered and smsSent; pending = not settled yet (incl. waiting for LINE).
      funnel: fig.funnel,
      friends: {
        total: Number(f?.["total"] ?? 0),
        gainedInPeriod: Number(f?.["gained"] ?? 0),
        lostInPeriod: Number(f?.["lost"] ?? 0),
        conversionsFromPrompts: Number(f?.["conversions"] ?? 0),
      },
      ...(byScenario ? { byScenario } : {}),
    });
  });
  return r;
}
