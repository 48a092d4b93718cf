import { randomBytes } from "node:crypto";
import { type Ctx, type Handlers, HttpError, type RequestChecks, type Result } from "./http.ts";
import { DAY, type EmulatorState, lineStatsDay, RETRY_KEY_MS, type StoredUser } from "./state.ts";

/**
 * Messaging API push and multicast (https://developers.line.biz/en/reference/messaging-api/, "Send push message",
 * "Send multicast message"), with the X-Line-Retry-Key cache
 * (https://developers.line.biz/en/docs/messaging-api/retrying-api-request/): a key is remembered 24 h, and a retry
 * gets 409 with `x-line-accepted-request-id` and, for push, the original `sentMessages`.
 * A push to a non-friend or a user who blocked the OA is 200 but not delivered; a user id LINE does not know is 400.
 */

/** Users who messaged the OA in the last 7 days can be pushed to even when they are not friends. */
const PUSH_REACH_AFTER_MESSAGE_MS = 7 * DAY;

export function reachableByPush(u: StoredUser, now: number): boolean {
  return !u.blocked && (u.friend || (u.lastMessageAt !== undefined && now - u.lastMessageAt <= PUSH_REACH_AFTER_MESSAGE_MS));
}

export function createMessaging({ state, checks }: { state: EmulatorState; checks: RequestChecks }): Handlers<"push" | "multicast"> {
  const { clock } = state;

  const checkRetryKey = (ctx: Ctx): Result | null => {
    if (!ctx.retryKey) return null;
    const hit = state.retryKeys.get(ctx.retryKey);
    if (!hit) return null;
    if (clock.now().getTime() - hit.at > RETRY_KEY_MS) {
      state.retryKeys.delete(ctx.retryKey);
      return null;
    }
    return {
      status: 409,
      body: { message: "The retry key is already accepted", sentMessages: hit.sentMessages },
      headers: { "x-line-accepted-request-id": hit.requestId },
    };
  };
  const rememberRetryKey = (ctx: Ctx, sentMessages: unknown[]) => {
    if (!ctx.retryKey) return;
    state.retryKeys.set(ctx.retryKey, { requestId: ctx.requestId, sentMessages, at: clock.now().getTime() });
    if (state.retryKeys.size > 200_000) {
      const cutoff = clock.now().getTime() - RETRY_KEY_MS;
      for (const [k, v] of state.retryKeys) if (v.at < cutoff) state.retryKeys.delete(k);
    }
  };

  /** Puts a push in the user's inbox, delivered or not; false when LINE does not know the user. */
  const pushTo = (ctx: Ctx, to: string, messages: unknown[]) => {
    const u = state.users.get(to);
    if (!u) return false;
    const now = clock.now();
    const ok = reachableByPush(u, now.getTime());
    state.pushInbox(to, {
      kind: "push",
      at: now.toISOString(),
      requestId: ctx.requestId,
      messages,
      delivered: ok,
      status: ok ? "delivered" : u.blocked ? "blocked" : "not_friend",
      ...(ok ? { deliveredAt: now.toISOString() } : {}),
    });
    if (ok) state.bump(`push:${lineStatsDay(now)}`);
    state.bump(`push_month:${state.monthKey()}`);
    return true;
  };

  return {
    push(ctx) {
      checks.params("pushMessage", ctx);
      checks.body("pushMessage", ctx);
      checks.texts(ctx.body.messages);
      const dup = checkRetryKey(ctx);
      if (dup) return dup;
      const { to, messages } = ctx.body as { to: string; messages: unknown[] };
      if (!state.users.has(to)) {
        throw new HttpError(400, { message: "The property, 'to', in the request body is invalid (line: -, column: -)" });
      }
      const sentMessages = messages.map(() => ({ id: state.nextMessageId(), quoteToken: randomBytes(24).toString("base64url") }));
      pushTo(ctx, to, messages);
      rememberRetryKey(ctx, sentMessages);
      state.acceptedLog.push({
        kind: "push",
        to,
        requestId: ctx.requestId,
        at: clock.now().toISOString(),
        ...(ctx.retryKey ? { retryKey: ctx.retryKey } : {}),
      });
      state.changed();
      return { status: 200, body: { sentMessages } };
    },
    multicast(ctx) {
      checks.params("multicast", ctx);
      checks.body("multicast", ctx);
      checks.texts(ctx.body.messages);
      const dup = checkRetryKey(ctx);
      if (dup) return dup;
      const { to, messages } = ctx.body as { to: string[]; messages: unknown[] };
      // LINE answers 200 for unknown, blocked and non-friend ids alike; they just get nothing.
      for (const id of to) pushTo(ctx, id, messages);
      rememberRetryKey(ctx, []);
      for (const id of to)
        state.acceptedLog.push({
          kind: "push",
          to: id,
          requestId: ctx.requestId,
          at: clock.now().toISOString(),
          ...(ctx.retryKey ? { retryKey: ctx.retryKey } : {}),
        });
      state.changed();
      return { status: 200, body: {} };
    },
  };
}
