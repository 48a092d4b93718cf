import { createHmac, randomBytes } from "node:crypto";
import { ulid } from "ulid";
import type { Logger } from "../../lib/logger.ts";
import type { EmulatorState } from "./state.ts";

/**
 * The webhooks LINE sends to our server: follow / unfollow / message events when a simulated user acts, and the PNP
 * `delivery` event when a notification message reaches the user. Each request is signed with the channel secret
 * (`x-line-signature`, HMAC-SHA256 over the exact bytes sent) and carries LINE's common event properties
 * (`webhookEventId` a ULID, `deliveryContext.isRedelivery`, `mode`, a millisecond `timestamp`): see
 * https://developers.line.biz/en/reference/messaging-api/ ("Webhook event objects"). A request that does not get a
 * 2xx is redelivered twice with `isRedelivery: true`, as LINE does with redelivery turned on.
 */

const WEBHOOK_BATCH = 100; // delivery events per webhook request, like LINE's batching
const WEBHOOK_CONCURRENCY = 16;

export interface WebhooksOutOptions {
  channelSecret: string;
  /** the bot's own user id: `destination` of every webhook */
  botUserId: string;
  webhookUrl: string | undefined;
  /** a delivered PNP's `delivery` webhook is sent this long after delivery (default 500 ms) */
  deliveryDelayMs: number;
  logger: Logger | undefined;
}

export type WebhooksOut = ReturnType<typeof createWebhooksOut>;

export function createWebhooksOut(state: EmulatorState, opts: WebhooksOutOptions) {
  const { clock } = state;
  const log = opts.logger;
  let webhookUrl = opts.webhookUrl;
  let closed = false;

  // Our server is not flooded: at most WEBHOOK_CONCURRENCY requests in flight, the rest wait their turn.
  const inflight = new Set<Promise<void>>();
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = () => (active < WEBHOOK_CONCURRENCY ? (active++, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)).then(() => void active++));
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    return p;
  };

  /** One signed POST; LINE-style redelivery (isRedelivery: true) on failure, a couple of times. */
  const postWebhook = async (events: Record<string, unknown>[], attempt = 0): Promise<void> => {
    const url = webhookUrl;
    const body = JSON.stringify({ destination: opts.botUserId, events });
    if (!url) {
      state.logWebhook({ at: clock.now().toISOString(), body, status: null, error: "no webhook URL set" });
      return;
    }
    const signature = createHmac("sha256", opts.channelSecret).update(body).digest("base64");
    await acquire();
    let status: number | null = null;
    let error: string | undefined;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", "x-line-signature": signature, "user-agent": "LineBotWebhook/2.0" },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      error = (err as Error).message;
    } finally {
      release();
    }
    state.logWebhook({ at: clock.now().toISOString(), body, status, ...(error ? { error } : {}) });
    if ((status === null || status >= 300) && attempt < 2 && !closed) {
      // Redelivered in the background, so a console click or a test's follow() does not wait for the back-off.
      log?.warn({ status, error, attempt }, "sandbox webhook failed; will redeliver");
      const again = events.map((e) => ({ ...e, deliveryContext: { isRedelivery: true } }));
      track(new Promise<void>((r) => setTimeout(r, 500 * 3 ** attempt).unref()).then(() => (closed ? undefined : postWebhook(again, attempt + 1))));
    }
  };
  const eventBase = () => ({
    webhookEventId: ulid(),
    deliveryContext: { isRedelivery: false },
    timestamp: clock.now().getTime(),
    mode: "active",
  });
  const sendEvents = (events: Record<string, unknown>[]) => track(postWebhook(events));

  // ---- PNP delivery events: sent deliveryDelayMs after delivery, in batches ----
  let deliveryTimer: NodeJS.Timeout | undefined;
  const flushDue = (all: boolean) => {
    deliveryTimer = undefined;
    if (!all && !webhookUrl && !closed) {
      // Not attached yet (a restart restoring pending deliveries): wait for our server instead of dropping them.
      deliveryTimer = setTimeout(() => flushDue(false), 1000);
      deliveryTimer.unref();
      return;
    }
    const now = Date.now();
    const due = all ? state.pending : state.pending.filter((p) => p.dueAt <= now);
    state.pending = all ? [] : state.pending.filter((p) => p.dueAt > now);
    for (let i = 0; i < due.length; i += WEBHOOK_BATCH) sendEvents(due.slice(i, i + WEBHOOK_BATCH).map((p) => p.event));
    scheduleDeliveries();
  };
  const scheduleDeliveries = () => {
    if (deliveryTimer || state.pending.length === 0 || closed) return;
    deliveryTimer = setTimeout(() => flushDue(false), Math.max(0, state.pending[0]!.dueAt - Date.now()));
  };
  for (const event of state.restoredDeliveries.splice(0)) state.pending.push({ event, dueAt: Date.now() + opts.deliveryDelayMs });
  scheduleDeliveries();

  return {
    /** queues the `delivery` event of a delivered PNP; `data` is its X-Line-Delivery-Tag, or else the phone hash */
    enqueueDelivery(data: string) {
      state.pending.push({ event: { type: "delivery", delivery: { data }, ...eventBase() }, dueAt: Date.now() + opts.deliveryDelayMs });
      scheduleDeliveries();
    },
    /** sends every pending delivery event now and waits for all webhook requests, redeliveries included */
    async flushDeliveries() {
      if (deliveryTimer) clearTimeout(deliveryTimer);
      flushDue(true);
      while (inflight.size) await Promise.allSettled([...inflight]);
    },

    // ---- what a simulated user does, as LINE reports it ----
    async follow(userId: string, o: { isUnblocked?: boolean } = {}) {
      const u = state.mustUser(userId);
      const isUnblocked = o.isUnblocked ?? u.blocked;
      state.patchUser(userId, { friend: true, blocked: false });
      await sendEvents([
        { type: "follow", replyToken: randomBytes(16).toString("hex"), source: { type: "user", userId }, follow: { isUnblocked }, ...eventBase() },
      ]);
    },
    async unfollow(userId: string) {
      // On LINE an unfollow event means the user blocked the account.
      state.patchUser(userId, { friend: false, blocked: true });
      await sendEvents([{ type: "unfollow", source: { type: "user", userId }, ...eventBase() }]);
    },
    async sendText(userId: string, text: string) {
      // A user who messaged the OA can be pushed to for 7 days, friend or not (messaging.ts).
      state.patchUser(userId, { lastMessageAt: clock.now().getTime() });
      await sendEvents([
        {
          type: "message",
          replyToken: randomBytes(16).toString("hex"),
          source: { type: "user", userId },
          message: { id: state.nextMessageId(), type: "text", text, quoteToken: randomBytes(24).toString("base64url") },
          ...eventBase(),
        },
      ]);
    },

    setWebhookUrl(url: string) {
      webhookUrl = url;
    },
    webhookUrl: () => webhookUrl,
    /** no more redeliveries or timers; waits for the requests in flight */
    async close() {
      closed = true;
      if (deliveryTimer) clearTimeout(deliveryTimer);
      await Promise.allSettled([...inflight]);
    },
  };
}
