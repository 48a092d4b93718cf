import type { Server } from "node:http";
import { middleware, type webhook } from "@line/bot-sdk";
import { createLogger } from "@oa-notify/server";
import { WebhookDeliveryWorker } from "@oa-notify/server/outbox/delivery.ts";
import { syncWebhookEndpoints } from "@oa-notify/server/outbox/endpoints.ts";
import express from "express";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, sign, TEST_SECRET, type TestContext } from "../helpers/app.ts";
import { followEvent, lineUserId, textMessageEvent, webhookBody } from "../helpers/events.ts";
import { freePort } from "../helpers/process.ts";

// The business's own chatbot, downstream: the official SDK's middleware() validates x-line-signature with the same
// channel secret, as it did when LINE called it directly.
let botPort: number;
let bot: Server | null = null;
const botEvents: webhook.Event[] = [];
const botUrl = () => `http://127.0.0.1:${botPort}/callback`;
function startBot(): Promise<void> {
  const app = express();
  app.post("/callback", middleware({ channelSecret: TEST_SECRET }), (req, res) => {
    botEvents.push(...(req.body as { events: webhook.Event[] }).events);
    res.sendStatus(200);
  });
  return new Promise((resolve) => {
    bot = app.listen(botPort, "127.0.0.1", () => resolve());
  });
}

let t: TestContext;
let deliveries: WebhookDeliveryWorker;
beforeAll(async () => {
  botPort = await freePort();
  t = await buildTestApp({ env: { WEBHOOK_FORWARD_URLS: botUrl() } });
  await syncWebhookEndpoints(t.db, t.config);
  deliveries = new WebhookDeliveryWorker(
    { db: t.db, clock: t.clock, logger: createLogger("silent"), config: t.config, metrics: t.app.services.metrics },
    { retryBaseMs: 1000, timeoutMs: 5000 },
  );
});
afterAll(async () => {
  await new Promise<void>((r) => (bot ? bot.close(() => r()) : r()));
  await t?.close();
});

describe("LINE webhook forwarding (WEBHOOK_FORWARD_URLS)", () => {
  it("forwards every accepted request, original bytes and signature, in order, to a bot that was down for a while", async () => {
    const user = lineUserId();
    const bodies: string[] = [];
    for (let i = 0; i < 12; i++) {
      const body = webhookBody([i === 0 ? followEvent(user) : textMessageEvent(user, `第 ${i} 則 message #${i}`)]);
      bodies.push(body);
      // Our 200 does not wait for the bot (it is down).
      const res = await request(t.app).post("/webhook").set("x-line-signature", sign(body)).set("content-type", "application/json").send(body);
      expect(res.status).toBe(200);
    }
    // A request with a bad signature is refused and never forwarded.
    const forged = webhookBody([textMessageEvent(user, "forged")]);
    expect(
      (await request(t.app).post("/webhook").set("x-line-signature", sign(forged, "other")).set("content-type", "application/json").send(forged)).status,
    ).toBe(401);

    // The bot is down: attempts fail (connection refused) and are retried with backoff.
    for (let i = 0; i < 5; i++) {
      await deliveries.runUntilIdle();
      t.clock.advance(60_000);
    }
    expect(botEvents).toHaveLength(0);
    const waiting = await request(t.app).get("/api/v1/webhook-deliveries?kind=forward&status=pending").set(auth());
    expect(waiting.body.deliveries).toHaveLength(12);
    // Newest first: only the oldest (the head of the URL's stream) was tried; the rest wait behind it, in order.
    const ds = waiting.body.deliveries as { attempts: number; lastError: string | null }[];
    expect(ds.at(-1)!.attempts).toBeGreaterThanOrEqual(2);
    expect(ds.at(-1)!.lastError).toBeTruthy();
    expect(ds.slice(0, -1).every((d) => d.attempts === 0)).toBe(true);

    await startBot();
    for (let i = 0; i < 40 && botEvents.length < 12; i++) {
      await deliveries.runUntilIdle();
      t.clock.advance(60_000);
    }
    // Every event, in the order LINE sent them, each request validated by the SDK's middleware.
    const sent = bodies.flatMap((b) => (JSON.parse(b) as { events: { webhookEventId: string }[] }).events.map((e) => e.webhookEventId));
    expect(botEvents.map((e) => e.webhookEventId)).toEqual(sent);
    expect(botEvents[0]!.type).toBe("follow");

    const done = await request(t.app).get("/api/v1/webhook-deliveries?kind=forward").set(auth());
    expect(done.body.deliveries.map((d: { status: string }) => d.status)).toEqual(Array(12).fill("delivered"));
    expect(done.body.deliveries[0]).toMatchObject({ type: "line.webhook", url: botUrl(), webhookId: expect.stringMatching(/^fwd_/) });
    const metrics = await request(t.app).get("/metrics");
    expect(metrics.text).toMatch(/webhook_deliveries_total\{kind="forward",outcome="delivered"\} 12/);
    expect(metrics.text).toMatch(/webhook_deliveries_total\{kind="forward",outcome="retry"\} [1-9]/);
  });
});
