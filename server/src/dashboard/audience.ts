import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../lib/errors.ts";
import { defineOperations, isoString, mount } from "../lib/openapi.ts";
import { DAY_MS, instantParam, queryPeriod, TAIPEI_OFFSET_MS, taipeiDate, taipeiFloor } from "../lib/taipei.ts";
import { parseOr400 } from "../lib/validate.ts";
import { rate } from "./figures.ts";

const query = z.object({ from: instantParam(), to: instantParam() }).strict();

/** GET /stats/audience's contract (lib/openapi.ts). */
export const audienceOperations = defineOperations({
  getAudience: {
    operationId: "getAudience",
    method: "get",
    path: "/stats/audience",
    tag: "stats",
    summary: "Binding rate, friends gained and block (unfollow) rate per Asia/Taipei day",
    request: { query },
    responses: {
      200: {
        description: "today's binding rate and one entry per day",
        schema: z.looseObject({
          from: isoString(),
          to: isoString(),
          binding: z.looseObject({ members: z.number().int(), bound: z.number().int(), rate: z.number() }),
          friends: z.looseObject({ total: z.number().int() }),
          days: z.array(z.looseObject({})),
        }),
      },
    },
  },
});

/**
 * GET /stats/audience?from&to (default: the last 7 days; whole Asia/Taipei days): the outcomes the product promises
 * besides cheap delivery (新增好友, 降低封鎖). `binding`: members with a bound LINE user now. `days`: per Taipei day,
 * friends gained (follows), blocks (unfollows), members bound, and the block rate = blocks ÷ friends at the day's
 * start. We keep each user's latest follow and unfollow only, so a user who followed twice in the period counts once,
 * and friends at a day's start are reconstructed from today's friends (docs/operations.md says so).
 */
export function audienceRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, audienceOperations.getAudience, async (req, res) => {
    const q = parseOr400(query, req.query, "query");
    const period = queryPeriod(q, deps.clock.now(), 7);
    const from = taipeiFloor(period.from, "day");
    const to = period.to;
    const count = Math.ceil((to.getTime() - from.getTime()) / DAY_MS);
    if (count > 400) throw new AppError("validation_failed", "query.from: at most 400 days", [{ field: "query.from", message: "at most 400 days" }]);
    const day = (col: string) => sql`floor((extract(epoch from ${sql.raw(col)}) * 1000 + ${TAIPEI_OFFSET_MS}) / ${DAY_MS})::bigint`;
    const [b] = await deps.db.query<Record<string, string | number>>(sql`
      select (select count(*) from members) as members, (select count(*) from members where line_user_id is not null) as bound,
        (select count(*) from line_users where friend) as friends`);
    const since = from.toISOString();
    const per = async (table: string, col: string) => {
      const rows = await deps.db.query<{ d: string | number; n: string | number }>(
        sql`select ${day(col)} as d, count(*) as n from ${sql.raw(table)} where ${sql.raw(col)} >= ${since}::timestamptz group by 1`,
      );
      return new Map(rows.map((x) => [Number(x.d), Number(x.n)]));
    };
    const [gained, lost, bound] = [await per("line_users", "followed_at"), await per("line_users", "unfollowed_at"), await per("members", "bound_at")];
    const friendsNow = Number(b?.["friends"] ?? 0);
    const first = Math.floor((from.getTime() + TAIPEI_OFFSET_MS) / DAY_MS);
    // Walk back from now: friends at the start of day d = friends now − follows since then + unfollows since then.
    const last = Math.max(first + count - 1, ...gained.keys(), ...lost.keys());
    let friends = friendsNow;
    const startOf = new Map<number, number>();
    for (let d = last; d >= first; d--) {
      friends += (lost.get(d) ?? 0) - (gained.get(d) ?? 0);
      startOf.set(d, Math.max(0, friends));
    }
    const days = [];
    for (let i = 0; i < count; i++) {
      const d = first + i;
      const blocked = lost.get(d) ?? 0;
      days.push({
        date: taipeiDate(new Date(d * DAY_MS - TAIPEI_OFFSET_MS)),
        gained: gained.get(d) ?? 0,
        blocked,
        bound: bound.get(d) ?? 0,
        friendsAtStart: startOf.get(d) ?? 0,
        blockRate: rate(blocked, startOf.get(d) ?? 0),
      });
    }
    const members = Number(b?.["members"] ?? 0);
    const boundNow = Number(b?.["bound"] ?? 0);
    res.json({
      from: from.toISOString(),
      to: to.toISOString(),
      timeZone: "Asia/Taipei",
      binding: { members, bound: boundNow, rate: rate(boundNow, members) },
      friends: { total: friendsNow },
      days,
    });
  });
  return r;
}
