import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { defineOperations, isoString, mount } from "../lib/openapi.ts";
import { DAY_MS, LINE_OFFSET_MS, monthParam, taipeiMonth, taipeiMonthOf } from "../lib/taipei.ts";
import { parseOr400 } from "../lib/validate.ts";
import { costSql, roundTwd } from "../notify/cost.ts";
import { type LineDayCounts, lineDayCounts } from "./line-counts.ts";

const query = z.object({ month: monthParam().optional() }).strict();

// LINE counts (and charges) a push or a PNP when it was delivered: the delivery time, else the accepted send.
const lineDelivered = sql`(delivered_at is not null or status in ('delivered', 'delivered_late'))`;
const deliveredAt = sql`coalesce(delivered_at, sent_at, updated_at)`;
const within = (col: ReturnType<typeof sql>, from: Date, to: Date) =>
  sql`${col} >= ${from.toISOString()}::timestamptz and ${col} < ${to.toISOString()}::timestamptz`;

// The parts each SMS was billed as (notifications.sms_parts; 1 for SMS sent before it was recorded).
const smsParts = sql`coalesce(sms_parts, 1)`;
const lineCount = (c: LineDayCounts[keyof LineDayCounts]) => (c.status === "ready" ? c.success : null);

/** GET /stats/statement's contract (lib/openapi.ts). */
export const statementOperations = defineOperations({
  getStatement: {
    operationId: "getStatement",
    method: "get",
    path: "/stats/statement",
    tag: "stats",
    summary: "Monthly statement (Asia/Taipei month) reconciled with LINE's own delivery counts",
    request: { query },
    responses: {
      200: {
        description: "billable PNP, pushes, SMS parts, NT$ per channel, and LINE's daily counts beside ours",
        schema: z.looseObject({
          month: z.string(),
          from: isoString(),
          to: isoString(),
          pnpDelivered: z.number().int(),
          pushDelivered: z.number().int(),
          smsSent: z.number().int(),
          smsParts: z.number().int(),
          costTwd: z.looseObject({ total: z.number() }),
          reconciliation: z.looseObject({}),
        }),
      },
    },
  },
});

/**
 * GET /stats/statement?month=yyyy-mm (default: this Taipei month): what LINE and the SMS provider will invoice for
 * a Taipei calendar month, by when it happened (delivered for push and PNP, sent for SMS; not when the notice was
 * created, as /stats counts), priced by the one cost rule (notify/cost.ts); and the reconciliation with LINE: per
 * LINE statistics day (UTC+9, LINE's own day, one hour ahead of Taipei's), our delivered push and PNP against
 * LINE's delivery counts, every difference flagged. LINE's figures are the ones it bills by.
 */
export function statementRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, statementOperations.getStatement, async (req, res) => {
    const q = parseOr400(query, req.query, "query");
    const month = q.month ?? taipeiMonthOf(deps.clock.now());
    const { from, to } = taipeiMonth(month);
    const cost = costSql(deps.config.prices);
    const [t] = await deps.db.query<Record<string, string | number>>(sql`
      select
        count(*) filter (where channel = 'pnp' and ${lineDelivered} and ${within(deliveredAt, from, to)}) as pnp,
        count(*) filter (where channel = 'push' and ${lineDelivered} and ${within(deliveredAt, from, to)}) as push,
        count(*) filter (where ${within(sql`sms_sent_at`, from, to)}) as sms,
        coalesce(sum(${smsParts}) filter (where ${within(sql`sms_sent_at`, from, to)}), 0) as sms_parts,
        coalesce(sum(${cost.pnp}) filter (where ${within(deliveredAt, from, to)}), 0) as cost_pnp,
        coalesce(sum(${cost.push}) filter (where ${within(deliveredAt, from, to)}), 0) as cost_push,
        coalesce(sum(${cost.sms}) filter (where ${within(sql`sms_sent_at`, from, to)}), 0) as cost_sms
      from notifications
      where (${within(deliveredAt, from, to)}) or (${within(sql`sms_sent_at`, from, to)})`);
    const n = (k: string) => Number(t?.[k] ?? 0);
    const spent = { push: roundTwd(n("cost_push")), pnp: roundTwd(n("cost_pnp")), sms: roundTwd(n("cost_sms")) };

    // The month's days as LINE's days: the same dates, each UTC+9 day [d 00:00+09, d+1 00:00+09).
    const days: string[] = [];
    for (let d = from.getTime(); d < to.getTime(); d += DAY_MS) days.push(new Date(d + 8 * 3_600_000).toISOString().slice(0, 10));
    const lineFrom = new Date(Date.parse(`${days[0]}T00:00:00Z`) - LINE_OFFSET_MS);
    const lineTo = new Date(lineFrom.getTime() + days.length * DAY_MS);
    // LINE's day number (whole UTC+9 days since the epoch): plain arithmetic, no time-zone database.
    const bucket = sql`floor((extract(epoch from ${deliveredAt}) * 1000 + ${LINE_OFFSET_MS}) / ${DAY_MS})::bigint`;
    const ours = await deps.db.query<{ day: string | number; push: string | number; pnp: string | number }>(sql`
      select ${bucket} as day,
        count(*) filter (where channel = 'push') as push,
        count(*) filter (where channel = 'pnp') as pnp
      from notifications
      where channel in ('push', 'pnp') and ${lineDelivered} and ${within(deliveredAt, lineFrom, lineTo)}
      group by 1`);
    const ourByDay = new Map(ours.map((o) => [new Date(Number(o.day) * DAY_MS).toISOString().slice(0, 10), { push: Number(o.push), pnp: Number(o.pnp) }]));
    const line = await lineDayCounts(deps, days);
    const rows = days.map((day) => {
      const o = ourByDay.get(day) ?? { push: 0, pnp: 0 };
      const l = line.get(day)!;
      const push = lineCount(l.push);
      const flex = lineCount(l.pnp);
      const tmpl = lineCount(l.pnp_template);
      const pnp = flex === null || tmpl === null ? null : flex + tmpl;
      const statuses = [...new Set([l.push.status, l.pnp.status, l.pnp_template.status])];
      const diff = { push: push === null ? null : push - o.push, pnp: pnp === null ? null : pnp - o.pnp };
      return {
        date: day,
        ours: o,
        line: { push, pnp, status: statuses.length === 1 ? statuses[0]! : statuses.join("/") },
        diff,
        flagged: diff.push !== 0 && diff.push !== null ? true : diff.pnp !== 0 && diff.pnp !== null,
      };
    });
    const sum = (f: (x: (typeof rows)[number]) => number | null) => rows.reduce((a, x) => a + (f(x) ?? 0), 0);
    const compared = rows.filter((x) => x.line.push !== null && x.line.pnp !== null);
    res.json({
      month,
      from: from.toISOString(),
      to: to.toISOString(),
      timeZone: "Asia/Taipei",
      prices: deps.config.prices,
      pnpDelivered: n("pnp"),
      pushDelivered: n("push"),
      smsSent: n("sms"),
      smsParts: n("sms_parts"),
      costTwd: { ...spent, total: roundTwd(spent.push + spent.pnp + spent.sms) },
      reconciliation: {
        timeZone: "UTC+9",
        days: rows,
        comparedDays: compared.length,
        flaggedDays: rows.filter((x) => x.flagged).length,
        totals: {
          ours: { push: sum((x) => (x.line.push === null ? null : x.ours.push)), pnp: sum((x) => (x.line.pnp === null ? null : x.ours.pnp)) },
          line: { push: sum((x) => x.line.push), pnp: sum((x) => x.line.pnp) },
        },
      },
    });
  });
  return r;
}
