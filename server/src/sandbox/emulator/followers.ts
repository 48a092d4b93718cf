import type { FaultInjector } from "./faults.ts";
import { badRequest, type Handlers, HttpError, type RequestChecks } from "./http.ts";
import { reachableByPush } from "./messaging.ts";
import type { EmulatorState } from "./state.ts";

/**
 * Who follows the OA and what it may still send (https://developers.line.biz/en/reference/messaging-api/, "Get a
 * list of users who added your LINE Official Account as a friend", "Get profile", "Get the target limit for sending
 * messages this month", "Get number of messages sent this month"):
 * - followers ids: friends who have not blocked the OA, `limit` 1–1000 (default 300), paged by an opaque `next`;
 * - profile: 404 unless the user can be pushed to (a friend, or a recent sender);
 * - quota: "none" unless the monthly-quota fault is on; consumption counts pushes sent this (UTC+9) month.
 */
export function createFollowers({
  state,
  checks,
  faults,
}: {
  state: EmulatorState;
  checks: RequestChecks;
  faults: FaultInjector;
}): Handlers<"followers" | "profile" | "quota"> {
  const pushesThisMonth = () => state.counts.get(`push_month:${state.monthKey()}`) ?? 0;
  return {
    followers(ctx) {
      checks.params("getFollowers", ctx);
      const limit = ctx.query.has("limit") ? Number(ctx.query.get("limit")) : 300;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest([{ message: "Must be between 1 and 1000", property: "limit" }]);
      let offset = 0;
      const start = ctx.query.get("start");
      if (start) {
        const m = /^o(\d+)$/.exec(Buffer.from(start, "base64url").toString("utf8"));
        if (!m) throw new HttpError(400, { message: "Invalid start parameter" });
        offset = Number(m[1]);
      }
      const ids = [...state.users.values()].filter((u) => u.friend && !u.blocked).map((u) => u.userId);
      const page = ids.slice(offset, offset + limit);
      const next = offset + limit < ids.length ? Buffer.from(`o${offset + limit}`).toString("base64url") : undefined;
      return { status: 200, body: next ? { userIds: page, next } : { userIds: page } };
    },
    profile(ctx) {
      checks.params("getProfile", ctx);
      const u = state.users.get(ctx.params["userId"]!);
      if (!u || !reachableByPush(u, state.clock.now().getTime())) throw new HttpError(404, { message: "Not found" });
      return { status: 200, body: { displayName: u.displayName, userId: u.userId, language: "zh-TW" } };
    },
    quota(ctx) {
      const path = ctx.req.url!.split("?")[0]!;
      if (path.endsWith("/consumption")) return { status: 200, body: { totalUsage: pushesThisMonth() } };
      return { status: 200, body: faults.quotaReached("push") ? { type: "limited", value: pushesThisMonth() } : { type: "none" } };
    },
  };
}
