import { createLineApi } from "@oa-notify/server";
import { pushMessage } from "@oa-notify/server/lib/line/calls.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { buildHistory } from "../helpers/history.ts";
import { ACCESS_TOKEN, HOUR, type NotifyHarness, notifyHarness, text } from "../notify/harness.ts";

/**
 * The dashboard's v2 endpoints over three Taipei days of history made through the product's own paths (API, worker,
 * LINE emulator, delivery webhooks) on the manual clock, across a month's end: 2026-11-29, 11-30 and 12-01.
 */
let h: NotifyHarness;
const get = async (path: string) => {
  const res = await request(h.t.app).get(`/api/v1${path}`).set(auth());
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const none = { push: 0, pnp: 0, smsFallback: 0, heldPnp: 0, refusedPnp: 0, smsRejected: 0, follows: 0, blocks: 0 };
const lineCountCalls = () => h.emulator.requests().filter((r) => r.path.startsWith("/v2/bot/message/delivery/")).length;

beforeAll(async () => {
  h = await notifyHarness();
  await buildHistory(h, "2026-11-29", [
    { ...none, push: 2, pnp: 1, smsFallback: 1, heldPnp: 1, follows: 1 },
    { ...none, push: 1, pnp: 2, refusedPnp: 1, smsRejected: 1, blocks: 1 },
    { ...none, push: 1, pnp: 1, smsFallback: 1, follows: 2 },
  ]);
  h.t.clock.set(Date.parse("2026-12-01T06:00:00Z")); // 14:00 in Taipei
  await h.run();
});
afterAll(async () => {
  await h?.close();
});

describe("date-only from/to are Asia/Taipei days", () => {
  it("/stats?from=2026-11-29&to=2026-11-30 is [2026-11-28T16:00Z, 2026-11-29T16:00Z)", async () => {
    const s = await get("/stats?from=2026-11-29&to=2026-11-30");
    expect([s.from, s.to]).toEqual(["2026-11-28T16:00:00.000Z", "2026-11-29T16:00:00.000Z"]);
    expect(s.total).toBe(5);
    // A date-time keeps its own offset.
    expect((await get(`/stats?from=${encodeURIComponent("2026-11-29T00:00:00Z")}&to=2026-11-30`)).from).toBe("2026-11-29T00:00:00.000Z");
  });
});

describe("GET /stats/series", () => {
  it("one point per Taipei day, every figure of /stats per day", async () => {
    const s = await get("/stats/series?from=2026-11-29&to=2026-12-02&interval=day");
    expect(s.points.map((p: { at: string }) => p.at)).toEqual(["2026-11-28T16:00:00.000Z", "2026-11-29T16:00:00.000Z", "2026-11-30T16:00:00.000Z"]);
    const [d0, d1, d2] = s.points;
    expect(d0).toMatchObject({ total: 5, channels: { push: 2, pnp: 3, sms: 0, other: 0 }, costTwd: { pnp: 0.2, sms: 1, total: 1.2 }, allSmsCostTwd: 5 });
    expect(d0.funnel).toEqual({ accepted: 5, sent: 5, delivered: 3, smsSent: 1, undelivered: 1, failed: 0, cancelled: 0, pending: 0 });
    expect(d0.fallback).toEqual({ lineRouted: 5, fellBackToSms: 1, rate: 0.2 });
    expect(d1).toMatchObject({ total: 5, channels: { push: 1, pnp: 3, sms: 1 }, costTwd: { pnp: 0.4, sms: 0, total: 0.4 }, fallback: { rate: 0 } });
    expect(d1.funnel).toMatchObject({ delivered: 3, failed: 2, smsSent: 0 });
    expect(d2).toMatchObject({ total: 3, costTwd: { total: 1.2 }, fallback: { lineRouted: 3, fellBackToSms: 1, rate: 0.3333 } });
    // The same figures as /stats over the same period.
    const whole = await get("/stats?from=2026-11-29&to=2026-12-02");
    expect(whole.total).toBe(13);
    expect(whole.costTwd.total).toBe(2.8);
  });

  it("hourly: 24 Taipei hours, the notices in the 10:00 bucket; bad input is a 400", async () => {
    const s = await get("/stats/series?from=2026-12-01&to=2026-12-02&interval=hour");
    expect(s.points).toHaveLength(24);
    expect(s.points.map((p: { total: number }) => p.total)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect((await request(h.t.app).get("/api/v1/stats/series?interval=week").set(auth())).status).toBe(400);
    expect((await request(h.t.app).get("/api/v1/stats/series?from=2026-01-01&to=2026-03-01&interval=hour").set(auth())).status).toBe(400);
    expect((await request(h.t.app).get("/api/v1/stats/series?from=2026-12-02&to=2026-12-01").set(auth())).status).toBe(400);
  });
});

describe("GET /stats/audience", () => {
  it("binding rate now; friends gained, blocks and the block rate per Taipei day", async () => {
    const a = await get("/stats/audience?from=2026-11-29&to=2026-12-02");
    expect(
      a.days.map((d: { date: string; gained: number; blocked: number; friendsAtStart: number; blockRate: number }) => [
        d.date,
        d.gained,
        d.blocked,
        d.friendsAtStart,
        d.blockRate,
      ]),
    ).toEqual([
      ["2026-11-29", 3, 0, 0, 0],
      ["2026-11-30", 1, 1, 3, 0.3333],
      ["2026-12-01", 3, 0, 3, 0],
    ]);
    expect(a.binding.members).toBeGreaterThanOrEqual(16);
    expect(a.binding.rate).toBe(Math.round((a.binding.bound / a.binding.members) * 10_000) / 10_000);
  });
});

describe("GET /stats?groupBy=scenario", () => {
  it("every figure per use case, most notices first", async () => {
    const s = await get("/stats?from=2026-11-29&to=2026-12-02&groupBy=scenario");
    const by = Object.fromEntries(s.byScenario.map((x: { scenario: string }) => [x.scenario, x]));
    expect(s.byScenario.map((x: { scenario: string; total: number }) => [x.scenario, x.total])).toEqual([
      ["payment", 4],
      ["shipping", 4],
      ["billing", 2],
      ["otp", 1],
      ["points", 1],
      ["reservation", 1],
    ]);
    expect(by.billing).toMatchObject({ costTwd: { sms: 2, total: 2 }, fallback: { rate: 1 }, savedTwd: 0 });
    expect(by.payment).toMatchObject({ costTwd: { pnp: 0.8 }, allSmsCostTwd: 4, savedTwd: 3.2 });
    expect(by.otp.funnel).toMatchObject({ failed: 1, smsSent: 0 });
    expect(by.reservation.funnel).toMatchObject({ undelivered: 1 });
    expect((await get("/stats?from=2026-11-29")).byScenario).toBeUndefined();
  });
});

describe("GET /stats/statement", () => {
  it("a Taipei month by delivery time, reconciled with LINE's daily counts; past days are fetched once", async () => {
    const before = lineCountCalls();
    const nov = await get("/stats/statement?month=2026-11");
    expect([nov.from, nov.to]).toEqual(["2026-10-31T16:00:00.000Z", "2026-11-30T16:00:00.000Z"]);
    expect(nov).toMatchObject({ pnpDelivered: 3, pushDelivered: 3, smsSent: 1, costTwd: { push: 0, pnp: 0.6, sms: 1, total: 1.6 } });
    // The one SMS: the 30-character default text in UCS-2, one part (≤ 70).
    expect(nov.smsParts).toBe(1);
    expect(nov.reconciliation.days).toHaveLength(30);
    expect(nov.reconciliation.days.find((d: { date: string }) => d.date === "2026-11-29")).toEqual({
      date: "2026-11-29",
      ours: { push: 2, pnp: 1 },
      line: { push: 2, pnp: 1, status: "ready" },
      diff: { push: 0, pnp: 0 },
      flagged: false,
    });
    expect(nov.reconciliation).toMatchObject({ comparedDays: 30, flaggedDays: 0, totals: { ours: { push: 3, pnp: 3 }, line: { push: 3, pnp: 3 } } });
    expect(lineCountCalls() - before).toBe(90); // 30 days × push, PNP, template PNP
    await get("/stats/statement?month=2026-11");
    expect(lineCountCalls() - before).toBe(90); // all from line_delivery_counts
  });

  it("flags a day where LINE counted more than we did; days after today are not asked", async () => {
    const friend = await h.member({ bind: true, follow: true });
    // A push that did not go through oa-notify (another system on the same channel): LINE counts it, we do not.
    const line = createLineApi({ baseUrl: h.emulator.url, channelAccessToken: ACCESS_TOKEN });
    expect((await pushMessage(line, { to: friend.userId!, messages: [{ type: "text", text: "hi" }], retryKey: crypto.randomUUID() })).kind).toBe("ok");
    // A 90-character Chinese notice to a number LINE does not know: LINE 422, then one SMS of two parts (71–134 UCS-2).
    const long = await h.member({ sim: false });
    expect((await h.post({ memberId: long.memberId, scenario: "billing", urgency: "day", text: "帳".repeat(90) })).status).toBe(202);
    await h.run();
    const dec = await get("/stats/statement?month=2026-12");
    expect(dec).toMatchObject({ smsSent: 2, smsParts: 3 });
    expect(dec.reconciliation.days).toHaveLength(31);
    const [first, second] = dec.reconciliation.days;
    expect(first).toEqual({
      date: "2026-12-01",
      ours: { push: 1, pnp: 1 },
      line: { push: 2, pnp: 1, status: "ready" },
      diff: { push: 1, pnp: 0 },
      flagged: true,
    });
    expect(second).toMatchObject({ date: "2026-12-02", line: { push: null, pnp: null, status: "future" }, diff: { push: null, pnp: null }, flagged: false });
    expect(dec.reconciliation).toMatchObject({ comparedDays: 1, flaggedDays: 1 });
    expect((await request(h.t.app).get("/api/v1/stats/statement?month=2026-13").set(auth())).status).toBe(400);
  });
});

describe("GET /stats/failures and /stats/batches", () => {
  it("the notices that did not reach the person, with their reasons and timeline links", async () => {
    const f = await get("/stats/failures?from=2026-11-30&to=2026-12-02");
    expect(f.total).toBe(3);
    const by = Object.fromEntries(f.failures.map((x: { scenario: string }) => [x.scenario, x]));
    expect(by.otp).toMatchObject({ status: "failed", channel: "sms", reason: "SMS: provider refused: invalid number" });
    expect(by.points).toMatchObject({ status: "undeliverable", reason: expect.stringMatching(/^LINE 422/) });
    expect(by.reservation).toMatchObject({ status: "undelivered", reason: "no delivery event within 24 h and no SMS" });
    expect(by.otp.timeline).toBe(`/api/v1/notifications/${by.otp.id}`);
    expect((await get(`/notifications/${by.otp.id}`)).status).toBe("failed");
    // Today (Taipei, 2026-12-01): nothing failed.
    expect((await get("/stats/failures")).total).toBe(0);
  });

  it("a batch's progress, counted from its notifications", async () => {
    const members = [await h.member({ bind: true, follow: true }), await h.member()];
    const res = await request(h.t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .send({ notifications: members.map((m) => ({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() })) });
    expect(res.status).toBe(202);
    const running = (await get("/stats/batches")).batches;
    expect(running).toEqual([expect.objectContaining({ batchId: res.body.batchId, total: 2, settled: 0, running: true, progress: 0 })]);
    await h.run();
    await h.deliveries();
    h.t.clock.advance(HOUR);
    const done = (await get("/stats/batches")).batches;
    expect(done).toEqual([
      expect.objectContaining({ batchId: res.body.batchId, total: 2, settled: 2, running: false, progress: 1, byStatus: { delivered: 2 } }),
    ]);
  });
});
