import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { defineOperations, isoString, mount } from "../lib/openapi.ts";
import { DAY_MS, instantParam, queryPeriod, taipeiFloor } from "../lib/taipei.ts";
import { parseOr400 } from "../lib/validate.ts";

const failuresQuery = z.object({ from: instantParam(), to: instantParam(), limit: z.coerce.number().int().min(1).max(500).default(200) }).strict();
const batchesQuery = z.object({ from: instantParam(), to: instantParam(), limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

/** The states a notice ends in when it did not reach the person. */
const FAILED = sql`status in ('failed', 'undeliverable', 'undelivered')`;
const PENDING = ["accepted", "queued", "sent", "fallback_sms"];

/** GET /stats/failures and /stats/batches (lib/openapi.ts). */
export const failuresOperations = defineOperations({
  getFailures: {
    operationId: "getFailures",
    method: "get",
    path: "/stats/failures",
    tag: "stats",
    summary: "Failed, undeliverable and undelivered notices (default: today, Asia/Taipei) with their reasons",
    request: { query: failuresQuery },
    responses: {
      200: {
        description: "newest first",
        schema: z.looseObject({
          from: isoString(),
          to: isoString(),
          total: z.number().int(),
          failures: z.array(z.looseObject({ id: z.uuid(), status: z.string(), reason: z.string().nullable() })),
        }),
      },
    },
  },
  getBatchesProgress: {
    operationId: "getBatchesProgress",
    method: "get",
    path: "/stats/batches",
    tag: "stats",
    summary: "Recent batches and their progress (counts by status)",
    request: { query: batchesQuery },
    responses: {
      200: {
        description: "newest first",
        schema: z.looseObject({ from: isoString(), to: isoString(), batches: z.array(z.looseObject({ running: z.boolean(), progress: z.number() })) }),
      },
    },
  },
});

/**
 * GET /stats/failures?from&to (default: today, Asia/Taipei): the notices that settled as `failed`, `undeliverable`
 * or `undelivered` in [from, to), newest first, with their reason (the latest timeline entry of that state's
 * `reason`, else the row's last error); each links to its timeline (GET /notifications/:id).
 *
 * GET /stats/batches?from&to (default: the last 24 hours): batches (POST /notifications/batch) with notices created
 * in the period, newest first, with their notices counted by state from the notifications themselves; `running`
 * while any of them is not settled.
 */
export function failuresRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, failuresOperations.getFailures, async (req, res) => {
    const q = parseOr400(failuresQuery, req.query, "query");
    const now = deps.clock.now();
    const today = taipeiFloor(now, "day");
    const { from, to } = queryPeriod({ from: q.from ?? today.toISOString(), to: q.to ?? new Date(today.getTime() + DAY_MS).toISOString() }, now, 1);
    const rows = await deps.db.query<Record<string, unknown>>(sql`
      select n.id, n.member_id, n.scenario, n.urgency, n.channel, n.status, n.last_error, n.created_at, n.updated_at,
        (select e.detail->>'reason' from notification_events e
          where e.notification_id = n.id and e.state = n.status and e.detail ? 'reason' order by e.id desc limit 1) as reason
      from notifications n
      where ${FAILED} and n.updated_at >= ${from.toISOString()}::timestamptz and n.updated_at < ${to.toISOString()}::timestamptz
      order by n.updated_at desc, n.id limit ${q.limit}`);
    const [c] = await deps.db.query<{ n: string | number }>(
      sql`select count(*) as n from notifications where ${FAILED} and updated_at >= ${from.toISOString()}::timestamptz and updated_at < ${to.toISOString()}::timestamptz`,
    );
    const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v ? new Date(String(v)).toISOString() : null);
    res.json({
      from: from.toISOString(),
      to: to.toISOString(),
      total: Number(c?.n ?? 0),
      failures: rows.map((x) => ({
        id: x["id"],
        memberId: x["member_id"] ?? null,
        scenario: x["scenario"],
        urgency: x["urgency"],
        channel: x["channel"] ?? null,
        status: x["status"],
        reason: (x["reason"] as string | null) ?? (x["last_error"] as string | null) ?? null,
        createdAt: iso(x["created_at"]),
        settledAt: iso(x["updated_at"]),
        timeline: `/api/v1/notifications/${String(x["id"])}`,
      })),
    });
  });

  mount(r, failuresOperations.getBatchesProgress, async (req, res) => {
    const q = parseOr400(batchesQuery, req.query, "query");
    // Up to and including now: a batch accepted this very millisecond is running.
    const now = deps.clock.now();
    const { from, to } = queryPeriod({ from: q.from, to: q.to ?? new Date(now.getTime() + 1).toISOString() }, now, 1);
    const rows = await deps.db.query<{ batch_id: string; status: string; n: string | number; first: unknown; last: unknown }>(sql`
      with recent as (
        select batch_id, min(created_at) as first from notifications
        where batch_id is not null and created_at >= ${from.toISOString()}::timestamptz and created_at < ${to.toISOString()}::timestamptz
        group by batch_id order by min(created_at) desc limit ${q.limit}
      )
      select n.batch_id, n.status, count(*) as n, r.first, max(n.updated_at) as last
      from notifications n join recent r on r.batch_id = n.batch_id
      group by n.batch_id, n.status, r.first order by r.first desc, n.batch_id, n.status`);
    const batches = new Map<
      string,
      { batchId: string; createdAt: string; updatedAt: string; total: number; settled: number; byStatus: Record<string, number> }
    >();
    for (const x of rows) {
      const at = (v: unknown) => new Date(v instanceof Date ? v : String(v)).toISOString();
      const b = batches.get(x.batch_id) ?? { batchId: x.batch_id, createdAt: at(x.first), updatedAt: at(x.last), total: 0, settled: 0, byStatus: {} };
      const n = Number(x.n);
      b.byStatus[x.status] = n;
      b.total += n;
      if (!PENDING.includes(x.status)) b.settled += n;
      if (at(x.last) > b.updatedAt) b.updatedAt = at(x.last);
      batches.set(x.batch_id, b);
    }
    res.json({
      from: from.toISOString(),
      to: to.toISOString(),
      batches: [...batches.values()].map((b) => ({
        ...b,
        running: b.settled < b.total,
        progress: b.total ? Math.round((b.settled / b.total) * 1000) / 1000 : 1,
      })),
    });
  });
  return r;
}
