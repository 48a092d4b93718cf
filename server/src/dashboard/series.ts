import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../lib/errors.ts";
import { defineOperations, isoString, mount } from "../lib/openapi.ts";
import { DAY_MS, HOUR_MS, instantParam, queryPeriod, TAIPEI_OFFSET_MS, taipeiFloor } from "../lib/taipei.ts";
import { parseOr400 } from "../lib/validate.ts";
import { createdIn, type Figures, figuresSelect, toFigures } from "./figures.ts";

const query = z
  .object({
    from: instantParam(),
    to: instantParam(),
    interval: z.enum(["day", "hour"]).default("day"),
  })
  .strict();

/** At most this many buckets in one answer: 400 days, or 31 days of hours. */
const MAX_BUCKETS = { day: 400, hour: 744 } as const;

export interface SeriesPoint extends Figures {
  /** the bucket's start (an Asia/Taipei day or hour) */
  at: string;
}

/** GET /stats/series's contract (lib/openapi.ts). */
export const seriesOperations = defineOperations({
  getStatsSeries: {
    operationId: "getStatsSeries",
    method: "get",
    path: "/stats/series",
    tag: "stats",
    summary: "Figures per Asia/Taipei day or hour (trends)",
    description: "Per bucket: counts by channel and outcome, fallback rate, NT$ spent and NT$ had all gone by SMS.",
    request: { query },
    responses: {
      200: {
        description: "one point per bucket, empty buckets included",
        schema: z.looseObject({
          from: isoString(),
          to: isoString(),
          interval: z.enum(["day", "hour"]),
          timeZone: z.string(),
          points: z.array(z.looseObject({ at: isoString(), total: z.number().int() })),
        }),
      },
    },
  },
});

/**
 * GET /stats/series?from&to&interval=day|hour: the figures of /stats (notifications created in each bucket) per
 * Asia/Taipei day or hour. `from` is moved back to the start of its bucket; every bucket in [from, to) is present,
 * empty ones with zeros, so a chart has one point per bucket.
 */
export function seriesRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, seriesOperations.getStatsSeries, async (req, res) => {
    const q = parseOr400(query, req.query, "query");
    const period = queryPeriod(q, deps.clock.now(), q.interval === "day" ? 7 : 1);
    const size = q.interval === "day" ? DAY_MS : HOUR_MS;
    const from = taipeiFloor(period.from, q.interval);
    const to = period.to;
    const count = Math.ceil((to.getTime() - from.getTime()) / size);
    if (count > MAX_BUCKETS[q.interval]) {
      throw new AppError("validation_failed", `query.from: at most ${MAX_BUCKETS[q.interval]} ${q.interval}s per series`, [
        { field: "query.from", message: `at most ${MAX_BUCKETS[q.interval]} buckets` },
      ]);
    }
    // The bucket's number: whole Taipei days (hours) since the epoch; plain arithmetic, no time-zone database.
    const bucket = sql`floor((extract(epoch from created_at) * 1000 + ${TAIPEI_OFFSET_MS}) / ${size})::bigint`;
    const rows = await deps.db.query<Record<string, string | number>>(
      sql`select ${bucket} as bucket, ${figuresSelect(deps.config.prices)} from notifications where ${createdIn(from, to)} group by 1`,
    );
    const byBucket = new Map(rows.map((row) => [Number(row["bucket"]), row]));
    const first = Math.floor((from.getTime() + TAIPEI_OFFSET_MS) / size);
    const points: SeriesPoint[] = [];
    for (let i = 0; i < count; i++) {
      points.push({ at: new Date((first + i) * size - TAIPEI_OFFSET_MS).toISOString(), ...toFigures(byBucket.get(first + i)) });
    }
    res.json({ from: from.toISOString(), to: to.toISOString(), interval: q.interval, timeZone: "Asia/Taipei", points });
  });
  return r;
}
