import { callbackStates, sql } from "@oa-notify/db";
import { createLogger } from "@oa-notify/server";
import { WebhookDeliveryWorker } from "@oa-notify/server/outbox/delivery.ts";
import { syncWebhookEndpoints } from "@oa-notify/server/outbox/endpoints.ts";
import { Webhook } from "standardwebhooks";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { type Received, startReceiver } from "../helpers/receiver.ts";
import { HOUR, MIN, type NotifyHarness, notifyHarness, text } from "../notify/harness.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
// Each event's first two attempts fail: one 503, then one dropped connection; the third is accepted.
const failures = new Map<string, number>();
let blocked = new Set<string>(); // notification ids whose callbacks are refused until removed
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let h: NotifyHarness;
let deliveries: WebhookDeliveryWorker;

beforeAll(async () => {
  receiver = await startReceiver(({ headers, body }) => {
    const id = String(headers["webhook-id"]);
    const data = JSON.parse(body.toString()).data as { id: string };
    if (blocked.has(data.id)) return 503;
    const n = failures.get(id) ?? 0;
    failures.set(id, n + 1);
    return n === 0 ? 503 : n === 1 ? 0 : 204;
  });
  h = await notifyHarness({ env: { STATUS_WEBHOOK_URL: receiver.url, STATUS_WEBHOOK_SECRET: SECRET } });
  await syncWebhookEndpoints(h.t.db, h.t.config);
  deliveries = new WebhookDeliveryWorker(
    { db: h.t.db, clock: h.t.clock, logger: createLogger("silent"), config: h.t.config },
    { retryBaseMs: 1000, timeoutMs: 5000 },
  );
});
afterAll(async () => {
  await h?.close();
  await receiver?.close();
});

const body = (r: Received) => JSON.parse(r.body.toString()) as { type: string; timestamp: string; data: Record<string, unknown> };
const forNotification = (id: string) => receiver.received.filter((r) => body(r).data["id"] === id);

/** Runs the delivery loop, moving the manual clock a minute at a time, until nothing is pending (or `rounds` ran out). */
async function deliverAll(rounds = 60): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await deliveries.runUntilIdle();
    const [p] = await h.t.db.query<{ n: string }>(sql`select count(*) as n from webhook_deliveries where status = 'pending'`);
    if (Number(p!.n) === 0) return;
    h.t.clock.advance(MIN);
  }
}

async function timelineStates(id: string): Promise<string[]> {
  const n = await h.get(id);
  return (n.timeline as { state: string }[]).map((e) => e.state).filter((s) => (callbackStates as readonly string[]).includes(s));
}

describe("status callbacks (STATUS_WEBHOOK_URL)", () => {
  it("delivers every state change once accepted, signed, one webhook-id per event, in order per notification, through failures", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const stranger = await h.member();
    const late = await h.member({ sim: { blocked: true } }); // PNP accepted, never delivered
    const ids = {
      push: (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id as string,
      pnp: (await h.post({ memberId: stranger.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id as string,
      sms: (await h.post({ memberId: late.memberId, scenario: "shipping", urgency: "hour", ...text() })).body.id as string,
      cancelled: (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text("取消 cancel me") })).body.id as string,
    };
    expect((await request(h.t.app).post(`/api/v1/notifications/${ids.cancelled}/cancel`).set(auth()).send()).status).toBe(200);
    await h.run();
    // The PNP's delivery event arrives; the other PNP (`sms`) gets none and falls back to SMS after its hour.
    await h.deliveries();
    await h.run();
    h.t.clock.advance(2 * HOUR);
    await h.run();
    await deliverAll();

    const expected: Record<keyof typeof ids, string[]> = {
      push: ["accepted", "sent", "delivered"],
      pnp: ["accepted", "sent", "delivered"],
      sms: ["accepted", "sent", "fallback_sms", "sms_sent"],
      cancelled: ["accepted", "cancelled"],
    };
    const wh = new Webhook(SECRET);
    for (const [k, id] of Object.entries(ids) as [keyof typeof ids, string][]) {
      // The expectation holds against the notification's own timeline too.
      expect(await timelineStates(id)).toEqual(expected[k]);
      const got = forNotification(id);
      const accepted = got.filter((r) => r.answered >= 200 && r.answered < 300);
      // Each event accepted exactly once, in the timeline's order.
      expect(accepted.map((r) => body(r).type)).toEqual(expected[k].map((s) => `notification.${s}`));
      // One webhook-id per event: every attempt of an event carries its id and the same body; three attempts each.
      const byId = new Map<string, Received[]>();
      for (const r of got) byId.set(String(r.headers["webhook-id"]), [...(byId.get(String(r.headers["webhook-id"])) ?? []), r]);
      expect(byId.size).toBe(expected[k].length);
      for (const attempts of byId.values()) {
        expect(attempts.map((a) => a.answered)).toEqual([503, 0, 204]);
        expect(new Set(attempts.map((a) => a.body.toString())).size).toBe(1);
      }
      // Never event n+1 before event n succeeded: the requests come as n,n,n,n+1,n+1,n+1,...
      expect(got.map((r) => body(r).type)).toEqual(expected[k].flatMap((s) => [1, 2, 3].map(() => `notification.${s}`)));
      for (const r of accepted) {
        const verified = wh.verify(r.body.toString(), {
          "webhook-id": String(r.headers["webhook-id"]),
          "webhook-timestamp": String(r.headers["webhook-timestamp"]),
          "webhook-signature": String(r.headers["webhook-signature"]),
        }) as { data: Record<string, unknown> };
        expect(verified.data).toMatchObject({ id, scenario: "shipping" });
        expect(() =>
          wh.verify(`${r.body.toString()} `, {
            "webhook-id": String(r.headers["webhook-id"]),
            "webhook-timestamp": String(r.headers["webhook-timestamp"]),
            "webhook-signature": String(r.headers["webhook-signature"]),
          }),
        ).toThrow();
      }
    }
    const last = body(forNotification(ids.push).at(-1)!);
    expect(last).toMatchObject({ type: "notification.delivered", data: { status: "delivered", channel: "push", memberId: friend.memberId, batchId: null } });
    const sms = body(forNotification(ids.sms).at(-1)!);
    expect(sms.data).toMatchObject({ status: "sms_sent", costTwd: 1 });
  });

  it("after 24 h of failures: failed, listed, blocks the next event, and a replay sends both in order", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const id = (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id as string;
    blocked = new Set([id]);
    await h.run(); // sent + delivered: two more events behind `accepted`
    for (let i = 0; i < 30; i++) {
      await deliveries.runUntilIdle();
      h.t.clock.advance(HOUR);
    }
    await deliveries.runUntilIdle();
    const got = forNotification(id);
    // Only the first event was ever tried, for over 24 h.
    expect(new Set(got.map((r) => body(r).type))).toEqual(new Set(["notification.accepted"]));
    expect(got.length).toBeGreaterThan(10);
    const list = await request(h.t.app).get("/api/v1/webhook-deliveries?status=failed").set(auth());
    expect(list.status).toBe(200);
    const failed = list.body.deliveries.filter((d: { notificationId: string }) => d.notificationId === id);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ kind: "status", type: "notification.accepted", status: "failed", lastStatus: 503, url: receiver.url });
    // Retried for at least 24 hours before giving up.
    expect(Date.parse(failed[0].lastAttemptAt) - Date.parse(failed[0].firstAttemptAt)).toBeGreaterThanOrEqual(24 * HOUR);
    expect(failed[0].attempts).toBe(got.length);
    const pending = await request(h.t.app).get(`/api/v1/webhook-deliveries?status=pending&notificationId=${id}`).set(auth());
    expect(pending.body.deliveries.map((d: { type: string }) => d.type)).toEqual(["notification.delivered", "notification.sent"]);

    blocked = new Set();
    const replay = await request(h.t.app).post(`/api/v1/webhook-deliveries/${failed[0].id}/replay`).set(auth()).send();
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ status: "pending", webhookId: failed[0].webhookId });
    expect((await request(h.t.app).post(`/api/v1/webhook-deliveries/${failed[0].id}/replay`).set(auth()).send()).status).toBe(409);
    await deliverAll();
    const ok = forNotification(id).filter((r) => r.answered === 204);
    expect(ok.map((r) => body(r).type)).toEqual(["notification.accepted", "notification.sent", "notification.delivered"]);
    // The replay kept the event's webhook-id.
    expect(ok[0]!.headers["webhook-id"]).toBe(failed[0].webhookId);
    expect((await request(h.t.app).post("/api/v1/webhook-deliveries/999999999/replay").set(auth()).send()).status).toBe(404);
  });

  it("writes no callback rows when STATUS_WEBHOOK_URL is unset (the endpoint row is deactivated)", async () => {
    await syncWebhookEndpoints(h.t.db, { webhooks: { ...h.t.config.webhooks, statusUrl: undefined } });
    try {
      const friend = await h.member({ bind: true, follow: true });
      const id = (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id as string;
      await h.run();
      expect((await h.get(id)).status).toBe("delivered");
      const rows = await h.t.db.query(sql`select 1 from webhook_deliveries where notification_id = ${id}`);
      expect(rows).toHaveLength(0);
    } finally {
      await syncWebhookEndpoints(h.t.db, h.t.config);
    }
  });
});
