import { smsSegments } from "@oa-notify/server/notify/render.ts";
import { shortCode } from "@oa-notify/server/notify/short-link.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { HOUR, MIN, type NotifyHarness, notifyHarness, toTaipeiMorning } from "./harness.ts";

/** Issue 10, points 5, 7 and 8: notices that explain themselves, SMS length and cost, quiet hours. */
let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness({ env: { PRICE_SMS_TWD: "0.9" } });
});
afterAll(async () => h?.close());

/** The clock's time in Taipei (UTC+8, no DST), formatted by hand, not by the code under test. */
const taipeiNow = () => {
  const t8 = new Date(h.t.clock.now().getTime() + 8 * HOUR);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${t8.getUTCFullYear()}/${p2(t8.getUTCMonth() + 1)}/${p2(t8.getUTCDate())} ${p2(t8.getUTCHours())}:${p2(t8.getUTCMinutes())}`;
};
const states = (n: { timeline: { state: string }[] }) => n.timeline.map((e) => e.state);

describe("notices that explain themselves", () => {
  it("a PNP built from text carries the event's Taipei time and the scenario's ignore line; so does the late SMS", async () => {
    toTaipeiMorning(h);
    const m = await h.member({ sim: { blocked: true } }); // accepted by LINE, never delivered: the SMS follows
    // Paid at 09:15 Taipei (01:15 UTC); written out by hand.
    const res = await h.post({ memberId: m.memberId, scenario: "payment", urgency: "hour", text: "您已完成付款 NT$880", eventAt: "2026-11-26T01:15:00Z" });
    expect(res.status).toBe(202);
    await h.run();
    const item = h.emulator.inbox(m.userId!).at(-1)!;
    expect(item.kind).toBe("pnp");
    const pnpText = (item.messages as { type: string; text: string }[])[0]!.text;
    expect(pnpText).toBe("您已完成付款 NT$880\n\n2026/11/26 09:15（台北時間 Taipei time）\n若您已確認付款，請忽略此訊息");
    h.t.clock.advance(15 * MIN + 1000);
    await h.run();
    const [sms] = h.emulator.smsInbox(m.e164);
    expect(sms!.text).toBe("2026/11/26 09:15 您已完成付款 NT$880\n若您已確認付款，請忽略此訊息");
  });

  it("the next-step bubble carries them; caller-supplied messages are left as given; a push gets neither", async () => {
    toTaipeiMorning(h);
    const issued = taipeiNow();
    expect(issued).toMatch(/ 10:00$/);
    const m = await h.member();
    const billId = await h.record("bill", m.memberId);
    const own = [{ type: "text", text: "本期帳單已出帳" }];
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", messages: own, nextStep: { type: "bill", id: billId } });
    await h.run();
    const item = h.emulator.inbox(m.userId!).at(-1)!;
    const msgs = item.messages as Record<string, unknown>[];
    expect(msgs[0]).toEqual(own[0]);
    const bubble = JSON.stringify(msgs[1]);
    expect(bubble).toContain(`${issued}（台北時間 Taipei time）`);
    expect(bubble).toContain("若您已完成繳費，請忽略此訊息");
    expect((await h.get(res.body.id)).channel).toBe("pnp");

    const f = await h.member({ bind: true, follow: true });
    await h.post({ memberId: f.memberId, scenario: "billing", urgency: "day", text: "本期帳單已出帳" });
    await h.run();
    expect((h.emulator.inbox(f.userId!).at(-1)!.messages as { text: string }[])[0]!.text).toBe("本期帳單已出帳");
  });

  it("an ignore line changed in the registry is used by notices accepted afterwards", async () => {
    toTaipeiMorning(h);
    await request(h.t.app).put("/api/v1/scenarios/repair_done").set(auth()).send({ pnpApproved: true, ignoreLine: "若您已取回手機，請忽略此訊息" });
    const m = await h.member();
    await h.post({ memberId: m.memberId, scenario: "repair_done", urgency: "day", text: "您的手機已維修完成" });
    await h.run();
    expect((h.emulator.inbox(m.userId!).at(-1)!.messages as { text: string }[])[0]!.text).toContain("若您已取回手機，請忽略此訊息");
  });
});

describe("SMS length and cost", () => {
  it("a 5,000-character text becomes an SMS of at most 3 UCS-2 parts with the short link kept; cost = parts × PRICE_SMS_TWD", async () => {
    const m = await h.member({ sim: false });
    const orderId = await h.record("order", m.memberId);
    const long = "您的訂單明細如下，".repeat(555).slice(0, 5000);
    const res = await h.post({ memberId: m.memberId, scenario: "purchase", urgency: "minutes", text: long, nextStep: { type: "order", id: orderId } });
    expect(res.status).toBe(202);
    await h.run();
    const [sms] = h.emulator.smsInbox(m.e164);
    const seg = smsSegments(sms!.text);
    expect(seg).toMatchObject({ encoding: "ucs2", segments: 3 });
    expect(sms!.text.length).toBeLessThanOrEqual(201);
    expect(sms!.text.endsWith(`/n/${shortCode(res.body.id)}`)).toBe(true);
    expect(sms!.text).toContain("…\n");
    const n = await h.get(res.body.id);
    expect(n.smsParts).toBe(3);
    expect(n.costTwd).toBe(2.7);
  });

  it("/stats counts billed parts: a 1-part and a 3-part SMS are 4 parts and NT$3.6", async () => {
    h.t.clock.advance(1000); // the period starts after the notices of the test before
    const from = h.t.clock.now().toISOString();
    const a = await h.member({ sim: false });
    const b = await h.member({ sim: false });
    await h.post({ memberId: a.memberId, scenario: "otp", urgency: "minutes", text: "驗證碼 123456" });
    await h.post({ memberId: b.memberId, scenario: "otp", urgency: "minutes", text: "驗".repeat(150) }); // 150 UCS-2 units: 3 parts
    await h.run();
    h.t.clock.advance(1000);
    const stats = await request(h.t.app).get(`/api/v1/stats?from=${from}&to=${h.t.clock.now().toISOString()}`).set(auth());
    expect(stats.status).toBe(200);
    expect(stats.body.smsParts).toBe(4);
    expect(stats.body.costTwd.sms).toBe(3.6);
  });
});

describe("quiet hours (default 21:30-08:00 Asia/Taipei)", () => {
  it("a day notice at 23:30 sends its fallback SMS at 08:00, not 03:30, and the timeline says so", async () => {
    toTaipeiMorning(h);
    h.t.clock.advance(13.5 * HOUR); // 23:30 Taipei
    const m = await h.member({ sim: { blocked: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", text: "本期帳單已出帳" });
    await h.run();
    let n = await h.get(res.body.id);
    expect(states(n)).toEqual(["accepted", "queued", "sms_quiet_hours", "sent"]);
    const quiet = n.timeline.find((e: { state: string }) => e.state === "sms_quiet_hours").detail;
    expect(quiet.smsAtTaipei).toMatch(/ 08:00$/);
    expect(quiet.reason).toContain("21:30-08:00 Asia/Taipei");
    h.t.clock.advance(4 * HOUR + MIN); // 03:31
    await h.run();
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
    h.t.clock.advance(4.5 * HOUR); // 08:01
    await h.run();
    n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(1);
  });

  it("an hour notice at 23:30 is not held: SMS at 23:45", async () => {
    toTaipeiMorning(h);
    h.t.clock.advance(13.5 * HOUR);
    const m = await h.member({ sim: { blocked: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "hour", text: "快速到貨：已出貨" });
    await h.run();
    h.t.clock.advance(15 * MIN + 1000);
    await h.run();
    expect(states(await h.get(res.body.id))).toEqual(["accepted", "queued", "sent", "fallback_sms", "sms_sent"]);
  });

  it("a PNP refused at night (no LINE account) waits for 08:00 on a day notice", async () => {
    toTaipeiMorning(h);
    h.t.clock.advance(13 * HOUR); // 23:00
    const m = await h.member({ sim: false });
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", text: "本期帳單已出帳" });
    await h.run();
    let n = await h.get(res.body.id);
    // The 4 h deadline (03:00) was moved at queueing; the 422 then asked for the SMS at once (23:00): moved again.
    expect(states(n)).toEqual(["accepted", "queued", "sms_quiet_hours", "fallback_sms", "sms_quiet_hours"]);
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
    h.t.clock.advance(9 * HOUR); // 08:00
    await h.run();
    n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
  });
});
