import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { type NotifyHarness, notifyHarness, text } from "./harness.ts";

let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness();
  await h.scenario("newsletter", { pnpApproved: false });
});
afterAll(async () => h?.close());

const count = async () => Number((await h.t.db.query<{ n: string }>(sql`select count(*) as n from notifications`))[0]!.n);
const eventsCount = async () => Number((await h.t.db.query<{ n: string }>(sql`select count(*) as n from notification_events`))[0]!.n);
const batch = (notifications: unknown[], key = undefined as string | undefined) =>
  request(h.t.app).post("/api/v1/notifications/batch").set(auth(key)).send({ notifications });

describe("validation: 4xx naming the field, nothing stored", () => {
  const cases: [string, () => Promise<Record<string, unknown>>, number, string][] = [
    ["no recipient", async () => ({ scenario: "shipping", urgency: "day", ...text() }), 400, "body.memberId"],
    ["no content", async () => ({ phone: "0912345678", scenario: "shipping", urgency: "day" }), 400, "body.messages"],
    ["unknown urgency", async () => ({ phone: "0912345678", scenario: "shipping", urgency: "soon", ...text() }), 400, "body.urgency"],
    ["bad phone", async () => ({ phone: "12", scenario: "shipping", urgency: "day", ...text() }), 400, "body.phone"],
    ["landline", async () => ({ phone: "02-2345-6789", scenario: "shipping", urgency: "day", ...text() }), 400, "phone"],
    ["unapproved scenario to a non-friend", async () => ({ phone: "0912345678", scenario: "promotion", urgency: "day", ...text() }), 422, "scenario"],
    [
      "image for PNP",
      async () => ({
        phone: "0912345678",
        scenario: "shipping",
        urgency: "day",
        messages: [{ type: "image", originalContentUrl: "https://e.x/a.jpg", previewImageUrl: "https://e.x/a.jpg" }],
      }),
      422,
      "messages.0.type",
    ],
    [
      "text over 5000 UTF-16 units",
      async () => ({ phone: "0912345678", scenario: "shipping", urgency: "day", messages: [{ type: "text", text: "😀".repeat(2501) }] }),
      400,
      "body.messages.0.text",
    ],
    [
      "6 messages",
      async () => ({ phone: "0912345678", scenario: "shipping", urgency: "day", messages: Array.from({ length: 6 }, () => ({ type: "text", text: "x" })) }),
      400,
      "body.messages",
    ],
    ["0 messages", async () => ({ phone: "0912345678", scenario: "shipping", urgency: "day", messages: [] }), 400, "body.messages"],
    [
      "5 messages plus a next-step button",
      async () => ({
        phone: "0912345678",
        scenario: "shipping",
        urgency: "day",
        nextStep: { type: "order", id: "o1" },
        messages: Array.from({ length: 5 }, () => ({ type: "text", text: "x" })),
      }),
      400,
      "body.messages",
    ],
    [
      "16 template items",
      async () => ({
        phone: "0912345678",
        scenario: "shipping",
        urgency: "day",
        template: { templateKey: "t", body: { items: Array.from({ length: 16 }, (_, i) => ({ itemKey: `k${i}`, content: "x" })) } },
      }),
      400,
      "body.template.body.items",
    ],
    [
      "template item over 300 chars",
      async () => ({
        phone: "0912345678",
        scenario: "shipping",
        urgency: "day",
        template: { templateKey: "t", body: { items: [{ itemKey: "k", content: "x".repeat(301) }] } },
      }),
      400,
      "body.template.body.items.0.content",
    ],
    [
      "emphasized item over 15 chars",
      async () => ({
        phone: "0912345678",
        scenario: "shipping",
        urgency: "day",
        template: { templateKey: "t", body: { emphasizedItem: { itemKey: "k", content: "x".repeat(16) } } },
      }),
      400,
      "body.template.body.emphasizedItem.content",
    ],
    [
      "3 template buttons",
      async () => ({
        phone: "0912345678",
        scenario: "shipping",
        urgency: "day",
        template: { templateKey: "t", body: { buttons: ["a", "b", "c"].map((k) => ({ buttonKey: k, url: "https://e.x/" })) } },
      }),
      400,
      "body.template.body.buttons",
    ],
    [
      "template button URL over 1000 chars",
      async () => ({
        phone: "0912345678",
        scenario: "shipping",
        urgency: "day",
        template: { templateKey: "t", body: { buttons: [{ buttonKey: "a", url: `https://e.x/${"a".repeat(1000)}` }] } },
      }),
      400,
      "body.template.body.buttons.0.url",
    ],
    ["unknown member without phone", async () => ({ memberId: "nobody-here", scenario: "shipping", urgency: "day", ...text() }), 422, "memberId"],
    ["unknown field", async () => ({ phone: "0912345678", scenario: "shipping", urgency: "day", ...text(), color: "red" }), 400, "body"],
    [
      "negative afterSeconds",
      async () => ({ phone: "0912345678", scenario: "shipping", urgency: "day", ...text(), sms: { afterSeconds: -1 } }),
      400,
      "body.sms.afterSeconds",
    ],
  ];
  for (const [name, body, status, field] of cases) {
    it(name, async () => {
      const before = [await count(), await eventsCount()];
      const res = await h.post(await body());
      expect(res.status).toBe(status);
      expect(res.body.error.message).toContain(field);
      expect(typeof res.body.error.code).toBe("string");
      expect([await count(), await eventsCount()]).toEqual(before);
    });
  }

  it("needs an API key", async () => {
    const res = await request(h.t.app)
      .post("/api/v1/notifications")
      .send({ phone: "0912345678", scenario: "shipping", urgency: "day", ...text() });
    expect(res.status).toBe(401);
  });

  it("404 for an unknown notification, 400 for a malformed id", async () => {
    expect((await request(h.t.app).get("/api/v1/notifications/6f1c2b1e-0000-4000-8000-000000000000").set(auth())).status).toBe(404);
    expect((await request(h.t.app).get("/api/v1/notifications/nope").set(auth())).status).toBe(400);
  });
});

describe("Idempotency-Key", () => {
  it("same key and body → the same notification; other body → 409; scoped per API key", async () => {
    const m = await h.member();
    const body = { memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() };
    const key = `idem-${Date.now()}`;
    const first = await h.post(body, { "Idempotency-Key": key });
    expect(first.status).toBe(202);
    // Same JSON value with its keys in another order is the same body.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await h.post(reordered, { "Idempotency-Key": key });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await h.post({ ...body, text: "another notice" }, { "Idempotency-Key": key });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("conflict");
    const otherApiKey = await request(h.t.app).post("/api/v1/notifications").set(auth("second-key-abcdefghijkl")).set("Idempotency-Key", key).send(body);
    expect(otherApiKey.status).toBe(202);
    expect(otherApiKey.body.id).not.toBe(first.body.id);
    const n = Number((await h.t.db.query<{ n: string }>(sql`select count(*) as n from notifications where idempotency_key = ${key}`))[0]!.n);
    expect(n).toBe(2);
    // Sent once, however many times the request came.
    await h.run();
    expect(h.emulator.accepted().filter((a) => a.kind === "pnp" && a.deliveryTag?.includes(first.body.id.replace(/-/g, "")))).toHaveLength(1);
  });
});

describe("batch", () => {
  it("accepts good items and rejects bad ones individually, one result per item, in order", async () => {
    const a = await h.member();
    const b = await h.member({ bind: true, follow: true });
    const before = await count();
    const res = await batch([
      { memberId: a.memberId, scenario: "shipping", urgency: "day", ...text() },
      { scenario: "shipping", urgency: "day", ...text() },
      { memberId: b.memberId, scenario: "newsletter", urgency: "day", ...text() },
      { phone: "0912000111", scenario: "promotion", urgency: "day", ...text() },
      { phone: "0912000111", scenario: "billing", urgency: "hour", ...text(), idempotencyKey: "batch-k1" },
      { phone: "0912000111", scenario: "billing", urgency: "hour", ...text(), idempotencyKey: "batch-k1" },
    ]);
    expect(res.status).toBe(202);
    expect(res.body.results.map((r: { index: number }) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(res.body.results[0].id).toBeTruthy();
    expect(res.body.results[1].error.message).toContain("notifications.1.memberId");
    expect(res.body.results[2].channel).toBe("push");
    expect(res.body.results[3].error.code).toBe("unprocessable");
    expect(res.body.results[5].id).toBe(res.body.results[4].id);
    expect(res.body.accepted).toBe(4);
    expect(await count()).toBe(before + 3);
    // Retrying the whole batch: the keyed item is not duplicated.
    const again = await batch([{ phone: "0912000111", scenario: "billing", urgency: "hour", ...text(), idempotencyKey: "batch-k1" }]);
    expect(again.body.results[0].id).toBe(res.body.results[4].id);
    expect(again.body.results[0].duplicate).toBe(true);
  });

  it("takes 10,000 items in one request (streamed, inserted in one statement)", async () => {
    const before = await count();
    const items = Array.from({ length: 10_000 }, (_, i) => ({
      phone: `0912${String(i).padStart(6, "0")}`,
      scenario: "billing",
      urgency: "days",
      text: `帳單 #${i}`,
    }));
    const res = await batch(items);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(10_000);
    expect(new Set(res.body.results.map((r: { id: string }) => r.id)).size).toBe(10_000);
    expect(await count()).toBe(before + 10_000);
    // They are due for the worker right away; clean them up so other tests' runs stay small.
    await h.t.db.query(sql`update notifications set due_at = null, status = 'cancelled' where batch_id = ${res.body.batchId}`);
  });

  it("rejects more than 10,000 items, bad JSON, a missing array and an all-bad batch; stores nothing", async () => {
    const before = await count();
    const tooMany = await batch(Array.from({ length: 10_001 }, () => ({ phone: "0912345678", scenario: "billing", urgency: "days", text: "x" })));
    expect(tooMany.status).toBe(413);
    const bad = await request(h.t.app).post("/api/v1/notifications/batch").set(auth()).set("content-type", "application/json").send('{"notifications":[{"a":');
    expect(bad.status).toBe(400);
    const missing = await request(h.t.app).post("/api/v1/notifications/batch").set(auth()).send({ items: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain("body.notifications");
    const allBad = await batch([{ scenario: "x" }]);
    expect(allBad.status).toBe(400);
    expect(allBad.body.error.details[0].error.message).toContain("notifications.0");
    expect(await count()).toBe(before);
  });
});

describe("stats", () => {
  it("counts by channel and state, NT$ per channel against all-SMS, fallback rate and late deliveries", async () => {
    h.t.clock.advance(60_000);
    const from = h.t.clock.now().toISOString();
    const friend = await h.member({ bind: true, follow: true });
    const pnpOk = await h.member();
    const noLine = await h.member({ sim: false });
    await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.post({ memberId: pnpOk.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.post({ memberId: noLine.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.run();
    await h.deliveries();
    h.t.clock.advance(60_000);
    const to = h.t.clock.now().toISOString();
    const res = await request(h.t.app)
      .get(`/api/v1/stats?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)
      .set(auth());
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect(res.body.byChannel.push.states.delivered).toBe(1);
    expect(res.body.byChannel.pnp.states).toEqual({ delivered: 1, sms_sent: 1 });
    const p = h.t.config.prices;
    expect(res.body.costTwd).toEqual({ push: p.push, pnp: p.pnp, sms: p.sms, total: Math.round((p.push + p.pnp + p.sms) * 100) / 100 });
    expect(res.body.allSmsCostTwd).toBe(3 * p.sms);
    expect(res.body.fallback).toMatchObject({ lineRouted: 3, fellBackToSms: 1 });
    expect(res.body.fallback.rate).toBeCloseTo(1 / 3, 2);
    expect(res.body.deliveredLate).toBe(0);
    const bad = await request(h.t.app)
      .get(`/api/v1/stats?from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`)
      .set(auth());
    expect(bad.status).toBe(400);
  });
});

describe("stats and cancellation", () => {
  it("a notice cancelled before sending costs nothing and is not in the all-SMS figure", async () => {
    h.t.clock.advance(60_000);
    const from = h.t.clock.now().toISOString();
    const m = await h.member();
    const n = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    const c = await request(h.t.app).post(`/api/v1/notifications/${n.body.id}/cancel`).set(auth());
    expect(c.status).toBe(200);
    await h.run();
    h.t.clock.advance(60_000);
    const to = h.t.clock.now().toISOString();
    const res = await request(h.t.app)
      .get(`/api/v1/stats?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)
      .set(auth());
    expect(res.body.total).toBe(1);
    expect(res.body.costTwd.total).toBe(0);
    expect(res.body.allSmsCostTwd).toBe(0);
  });
});

describe("a member's notifications", () => {
  it("lists the latest with channel, state and the route rule (why did they get an SMS?)", async () => {
    const m = await h.member({ sim: false });
    const a = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", ...text() });
    h.t.clock.advance(1000);
    const b = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", ...text("123456") });
    await h.run();
    const res = await request(h.t.app).get(`/api/v1/notifications?memberId=${m.memberId}`).set(auth());
    expect(res.status).toBe(200);
    expect(res.body.notifications.map((n: { id: string }) => n.id)).toEqual([b.body.id, a.body.id]);
    expect(res.body.notifications[0]).toMatchObject({ status: "sms_sent", channel: "sms", rule: expect.stringMatching(/minutes/) });
    expect(res.body.notifications[1]).toMatchObject({ status: "sms_sent", channel: "pnp" });
    expect((await request(h.t.app).get("/api/v1/notifications?member=x").set(auth())).status).toBe(400);
  });
});
