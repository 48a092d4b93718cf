import { sql } from "@oa-notify/db";
import { phoneHash } from "@oa-notify/server/lib/phone.ts";
import { verifyViewToken } from "@oa-notify/server/lib/view-token.ts";
import { deliveryTagFor } from "@oa-notify/server/notify/channels/index.ts";
import { markSeen } from "@oa-notify/server/notify/seen.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign } from "../helpers/app.ts";
import { deliveryEvent, webhookBody } from "../helpers/events.ts";
import { HOUR, MIN, type NotifyHarness, notifyHarness, text, toTaipeiMorning } from "./harness.ts";

let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness();
  // Not a LINE-approved use case: this account may send it to friends by push only.
  await h.scenario("newsletter", { pnpApproved: false, title: "電子報 Newsletter" });
});
afterAll(async () => h?.close());

const states = (n: { timeline: { state: string }[] }) => n.timeline.map((e) => e.state);
const acceptedFor = (pred: (a: { kind: string; to: string; deliveryTag?: string; retryKey?: string }) => boolean) => h.emulator.accepted().filter(pred);

describe("push to a friend", () => {
  it("sends by Messaging API push with a retry key and is delivered on 200", async () => {
    const m = await h.member({ sim: { friend: false }, bind: true, follow: true });
    const orderId = await h.record("order", m.memberId);
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text(), nextStep: { type: "order", id: orderId } });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("accepted");
    expect(res.body.route.channel).toBe("push");
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("delivered");
    expect(n.channel).toBe("push");
    expect(n.route.rule).toMatch(/friend now: Messaging API push/);
    expect(n.route.inputs.friend).toBe(true);
    expect(states(n)).toEqual(["accepted", "queued", "sent", "delivered"]);
    const pushes = acceptedFor((a) => a.kind === "push" && a.to === m.userId);
    expect(pushes).toHaveLength(1);
    const [row] = await h.t.db.query<{ retry_key: string }>(sql`select retry_key from notifications where id = ${res.body.id}`);
    expect(pushes[0]!.retryKey).toBe(row!.retry_key);
    // The next-step button: LIFF URL with a view token naming this notification and order.
    const item = h.emulator.inbox(m.userId!).at(-1)!;
    const json = JSON.stringify(item.messages);
    const url = /https:\/\/liff\.line\.me\/[^"]+/.exec(json)![0];
    expect(url).toContain(`/${h.t.config.line.liffId}/orders/${orderId}?t=`);
    const claims = await verifyViewToken(h.t.config.appSecret, new URL(url).searchParams.get("t")!, h.t.clock.now());
    expect(claims).toEqual({ nid: res.body.id, type: "order", id: orderId });
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });

  it("routes by friend state at send time: an unfollow after acceptance (blocked) sends the SMS, never a PNP", async () => {
    const m = await h.member({ bind: true, follow: true });
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", ...text() });
    expect(res.body.route.channel).toBe("push");
    h.t.clock.advance(1000); // the unfollow event must be newer than the follow
    await h.emulator.unfollow(m.userId!);
    await h.t.app.services.processor.drain();
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.channel).toBe("sms");
    expect(n.status).toBe("sms_sent");
    expect(n.route.rule).toBe("LINE user blocked the OA (unfollowed): SMS");
    expect(n.route.inputs).toMatchObject({ friend: false, blocked: true });
    expect(acceptedFor((a) => a.to === m.userId)).toHaveLength(0);
    expect(h.emulator.accepted().filter((a) => a.kind.startsWith("pnp") && a.to === phoneHash(m.e164))).toHaveLength(0);
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(1);
  });

  it("accepts an unapproved scenario for a friend (push is not restricted to PNP use cases)", async () => {
    const m = await h.member({ bind: true, follow: true });
    const res = await h.post({ memberId: m.memberId, scenario: "newsletter", urgency: "days", ...text() });
    expect(res.status).toBe(202);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("delivered");
  });
});

describe("PNP to a non-friend", () => {
  it("sends flexible PNP tagged with the notification id; the delivery event marks it delivered and no SMS follows", async () => {
    const m = await h.member();
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "hour", ...text() });
    expect(res.status).toBe(202);
    await h.run();
    let n = await h.get(res.body.id);
    expect(n.status).toBe("sent");
    expect(n.channel).toBe("pnp");
    const sent = acceptedFor((a) => a.kind === "pnp" && a.deliveryTag === deliveryTagFor(res.body.id));
    expect(sent).toHaveLength(1);
    expect(deliveryTagFor(res.body.id)).toMatch(/^[A-Za-z0-9]{16,100}$/);
    await h.deliveries();
    n = await h.get(res.body.id);
    expect(n.status).toBe("delivered");
    expect(states(n)).toEqual(["accepted", "queued", "sent", "delivered"]);
    h.t.clock.advance(20 * MIN); // past the SMS deadline: the delivery cancelled it
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("delivered");
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });

  it("matches a delivery event that was processed before the send was recorded (from the webhook inbox)", async () => {
    const m = await h.member({ sim: { blocked: true } }); // the emulator itself will never deliver this one
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "hour", ...text() });
    const body = webhookBody([deliveryEvent(deliveryTagFor(res.body.id), { timestamp: h.t.clock.now().getTime() })]);
    const hook = await request(h.t.app).post("/webhook").set("content-type", "application/json").set("x-line-signature", sign(body)).send(body);
    expect(hook.status).toBe(200);
    await h.t.app.services.processor.drain();
    expect((await h.get(res.body.id)).status).toBe("accepted"); // no tag on any row yet: nothing matched
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("delivered");
    expect(n.timeline.at(-1).detail.matched).toBe("from_inbox_after_send");
    h.t.clock.advance(20 * MIN);
    await h.run();
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });

  it("sends template PNP when the content is a template", async () => {
    const m = await h.member();
    const template = {
      templateKey: "shipment_completed_tw",
      body: { emphasizedItem: { itemKey: "number_001_tw", content: "A-1001" }, items: [{ itemKey: "date_002_tw", content: "2026/11/27" }] },
    };
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", template });
    expect(res.status).toBe(202);
    expect(res.body.route.pnpKind).toBe("template");
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("sent");
    const sent = acceptedFor((a) => a.kind === "pnp_template" && a.deliveryTag === deliveryTagFor(res.body.id));
    expect(sent).toHaveLength(1);
    expect(h.emulator.inbox(m.userId!).at(-1)!.template).toMatchObject({ templateKey: "shipment_completed_tw" });
  });

  it("drops image/video/audio for PNP when messages accepted for a friend go by PNP (binding moved away before sending)", async () => {
    const m = await h.member({ bind: true, follow: true });
    const messages = [
      { type: "text", text: "您的訂單已出貨" },
      { type: "image", originalContentUrl: "https://example.com/a.jpg", previewImageUrl: "https://example.com/a.jpg" },
    ];
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", messages });
    expect(res.status).toBe(202);
    // The LINE user was bound to another member since (a "rebind": no decision of this member's): PNP by phone.
    await h.t.db.query(sql`update members set line_user_id = null, bound_at = null where member_id = ${m.memberId}`);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("sent");
    const item = h.emulator.inbox(m.userId!).at(-1)!;
    expect(item.kind).toBe("pnp");
    expect((item.messages as { type: string }[]).map((x) => x.type)).toEqual(["text"]);
  });

  it("a 422 (no LINE account for the number) falls back to SMS at once, with the notice time and the ignore line", async () => {
    toTaipeiMorning(h);
    const m = await h.member({ sim: false });
    const t8 = new Date(h.t.clock.now().getTime() + 8 * HOUR); // Asia/Taipei is UTC+8, no DST
    const p2 = (n: number) => String(n).padStart(2, "0");
    const taipei = `${t8.getUTCFullYear()}/${p2(t8.getUTCMonth() + 1)}/${p2(t8.getUTCDate())} ${p2(t8.getUTCHours())}:${p2(t8.getUTCMinutes())}`;
    const res = await h.post({ memberId: m.memberId, scenario: "payment_reminder", urgency: "day", ...text("本期帳單 NT$1,234 將於 12/01 到期") });
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent"); // 10:xx in Taipei: outside the quiet hours
    expect(states(n)).toEqual(["accepted", "queued", "fallback_sms", "sms_sent"]);
    const inbox = h.emulator.smsInbox(m.e164);
    expect(inbox).toHaveLength(1);
    expect(inbox[0]!.reference).toBe(res.body.id);
    expect(inbox[0]!.text).toContain("本期帳單 NT$1,234");
    expect(inbox[0]!.text).toContain(taipei);
    expect(inbox[0]!.text).toContain("若您已完成繳費，請忽略此訊息"); // the scenario's own ignore line
  });

  it("silence: falls back to SMS after the urgency's wait (hour = 15 min), not before", async () => {
    const m = await h.member({ sim: { blocked: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "hour", ...text() });
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("sent");
    h.t.clock.advance(14 * MIN);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("sent");
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
    h.t.clock.advance(1 * MIN + 1000);
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    expect(states(n)).toEqual(["accepted", "queued", "sent", "fallback_sms", "sms_sent"]);
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(1);
  });

  it("honours sms.afterSeconds and the day urgency's default of 4 h", async () => {
    const a = await h.member({ sim: { blocked: true } });
    const b = await h.member({ sim: { blocked: true } });
    const ra = await h.post({ memberId: a.memberId, scenario: "billing", urgency: "day", ...text() });
    const rb = await h.post({ memberId: b.memberId, scenario: "billing", urgency: "day", ...text(), sms: { afterSeconds: 60 } });
    await h.run();
    h.t.clock.advance(61_000);
    await h.run();
    expect((await h.get(ra.body.id)).status).toBe("sent");
    expect((await h.get(rb.body.id)).status).toBe("sms_sent");
    h.t.clock.advance(4 * HOUR);
    await h.run();
    expect((await h.get(ra.body.id)).status).toBe("sms_sent");
  });

  it("late delivery: a delivery after the SMS went out is kept as delivered_late (both charged)", async () => {
    const m = await h.member({ sim: { pnpConsent: "unset" } });
    const res = await h.post({ memberId: m.memberId, scenario: "reservation_reminder", urgency: "hour", ...text() });
    await h.run();
    h.t.clock.advance(16 * MIN);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("sms_sent");
    await h.emulator.consentNow(m.userId!);
    await h.deliveries();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("delivered_late");
    expect(states(n).slice(-2)).toEqual(["sms_sent", "delivered_late"]);
    expect(n.costTwd).toBeCloseTo(h.t.config.prices.pnp + h.t.config.prices.sms);
  });

  it("days: no SMS unless asked; undelivered after 24 h of silence", async () => {
    const m = await h.member({ sim: { blocked: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "contract_reminder", urgency: "days", ...text() });
    expect(res.body.route.smsAfterSeconds).toBeNull();
    await h.run();
    h.t.clock.advance(23 * HOUR);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("sent");
    h.t.clock.advance(HOUR + 1000);
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("undelivered");
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });

  it("a next-step page view cancels the pending SMS", async () => {
    const m = await h.member({ sim: { blocked: true } });
    const billId = await h.record("bill", m.memberId);
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "hour", ...text(), nextStep: { type: "bill", id: billId } });
    await h.run();
    h.t.clock.advance(5 * MIN);
    expect(await markSeen({ db: h.t.db.db, clock: h.t.clock, notificationId: res.body.id })).toBe(true);
    await h.run();
    h.t.clock.advance(30 * MIN);
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("delivered");
    expect(states(n)).toEqual(["accepted", "queued", "sent", "seen", "sms_cancelled", "delivered"]);
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });
});

describe("SMS routes", () => {
  it("minutes: SMS at once", async () => {
    const m = await h.member();
    const res = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", ...text("驗證碼 123456") });
    expect(res.body.route.channel).toBe("sms");
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    expect(h.emulator.smsInbox(m.e164)[0]!.text).toContain("驗證碼 123456");
    expect(h.emulator.smsInbox(m.e164)[0]!.text).not.toContain("請忽略"); // not a fallback
  });

  it("minutes to a friend: SMS at once and a push alongside (once)", async () => {
    const m = await h.member({ bind: true, follow: true });
    const res = await h.post({ memberId: m.memberId, scenario: "payment", urgency: "minutes", ...text("刷卡通知 NT$2,000") });
    expect(res.body.route).toMatchObject({ channel: "sms", parallelPush: true });
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    expect(states(n)).toEqual(["accepted", "queued", "push_sent", "sms_sent"]);
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(1);
    expect(acceptedFor((a) => a.kind === "push" && a.to === m.userId)).toHaveLength(1);
  });

  it("phone only, unknown to LINE, days urgency without sms → undeliverable with the reason", async () => {
    const m = await h.member({ sim: false });
    const res = await h.post({ phone: m.phone, scenario: "billing", urgency: "days", ...text() });
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("undeliverable");
    expect(n.timeline.at(-1).detail.reason).toMatch(/422/);
  });
});

describe("faults", () => {
  it("reuses the push retry key across a 500 and across an ambiguous drop; LINE accepts once", async () => {
    const m = await h.member({ bind: true, follow: true });
    h.emulator.setFaults({ serverError: { endpoint: "push", count: 1 } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.run();
    let n = await h.get(res.body.id);
    expect(n.status).toBe("queued");
    expect(states(n)).toContain("retry_scheduled");
    h.emulator.setFaults({ dropConnection: { endpoint: "push", count: 1, afterAccept: true } });
    h.t.clock.advance(20 * MIN);
    await h.run();
    n = await h.get(res.body.id);
    expect(n.status).toBe("queued"); // no answer: retried later, with the same key
    h.emulator.clearFaults();
    h.t.clock.advance(20 * MIN);
    await h.run();
    n = await h.get(res.body.id);
    expect(n.status).toBe("delivered");
    expect(n.timeline.find((e: { state: string }) => e.state === "delivered").detail.by).toBe("push_409_retry_key_already_accepted");
    const attempts = h.emulator.requests().filter((r) => r.path === "/v2/bot/message/push" && (r.body as { to?: string })?.to === m.userId);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.retryKey)).size).toBe(1);
    expect(acceptedFor((a) => a.kind === "push" && a.to === m.userId)).toHaveLength(1);
  });

  it("backs off on a rate-limit 429 for Retry-After seconds", async () => {
    const m = await h.member({ bind: true, follow: true });
    h.emulator.setFaults({ rateLimit: { endpoint: "push", count: 1, retryAfterSeconds: 30 } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.run();
    h.emulator.clearFaults();
    const [row] = await h.t.db.query<{ due_at: Date; attempts: number }>(sql`select due_at, attempts from notifications where id = ${res.body.id}`);
    expect(new Date(row!.due_at).getTime() - h.t.clock.now().getTime()).toBe(30_000);
    expect(row!.attempts).toBe(0); // a rate limit does not spend an attempt
    h.t.clock.advance(29_000);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("queued");
    h.t.clock.advance(1_000);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("delivered");
  });

  it("reroutes to PNP when push hits the monthly quota", async () => {
    const m = await h.member({ bind: true, follow: true });
    h.emulator.setFaults({ monthlyQuota: { endpoint: "push", on: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.run();
    h.emulator.clearFaults();
    const n = await h.get(res.body.id);
    expect(n.channel).toBe("pnp");
    expect(n.status).toBe("sent");
    expect(n.route.reroutedFrom).toBe("push");
    expect(states(n)).toEqual(["accepted", "queued", "rerouted", "sent"]);
    expect(acceptedFor((a) => a.kind === "pnp" && a.deliveryTag === deliveryTagFor(res.body.id))).toHaveLength(1);
  });

  it("retries PNP after a 500 (LINE surely did not accept)", async () => {
    const m = await h.member();
    h.emulator.setFaults({ serverError: { endpoint: "pnp", count: 1 } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.run();
    h.emulator.clearFaults();
    expect((await h.get(res.body.id)).status).toBe("queued");
    h.t.clock.advance(20 * MIN);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("sent");
    const tag = deliveryTagFor(res.body.id);
    expect(h.emulator.requests().filter((r) => r.deliveryTag === tag)).toHaveLength(2);
    expect(acceptedFor((a) => a.deliveryTag === tag)).toHaveLength(1);
  });

  it("never resends a PNP whose call got no response; the delivery event settles it", async () => {
    const m = await h.member();
    h.emulator.setFaults({ dropConnection: { endpoint: "pnp", count: 1, afterAccept: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.run();
    h.emulator.clearFaults();
    let n = await h.get(res.body.id);
    expect(n.status).toBe("sent");
    expect(n.timeline.at(-1).detail.ambiguous).toBe(true);
    h.t.clock.advance(HOUR);
    await h.run();
    await h.deliveries();
    n = await h.get(res.body.id);
    expect(n.status).toBe("delivered");
    const tag = deliveryTagFor(res.body.id);
    expect(h.emulator.requests().filter((r) => r.deliveryTag === tag)).toHaveLength(1);
  });

  it("a PNP row claimed with its sent-marker set and no outcome (a crash mid-call) is never called again", async () => {
    const m = await h.member({ sim: { blocked: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "hour", ...text() });
    // Simulate the crash: the route decided and the marker committed, then the process died before the call.
    await h.t.db.query(sql`update notifications set status = 'queued', channel = 'pnp', delivery_tag = ${deliveryTagFor(res.body.id)},
      pnp_call_started_at = ${h.t.clock.now().toISOString()}::timestamptz, sms_deadline_at = ${new Date(h.t.clock.now().getTime() + 15 * MIN).toISOString()}::timestamptz
      where id = ${res.body.id}`);
    await h.run();
    let n = await h.get(res.body.id);
    expect(n.status).toBe("sent");
    expect(h.emulator.requests().filter((r) => r.deliveryTag === deliveryTagFor(res.body.id))).toHaveLength(0);
    h.t.clock.advance(16 * MIN);
    await h.run();
    n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent"); // the SMS deadline still protects the recipient
  });
});

describe("failed", () => {
  it("a push LINE refuses (400) with no SMS allowed ends failed, with LINE's reason", async () => {
    const m = await h.member({ sim: false });
    const ghost = `U${"0".repeat(32)}`; // a user id LINE does not know
    await h.t.db.query(sql`update members set line_user_id = ${ghost} where member_id = ${m.memberId}`);
    await h.t.db.query(
      sql`insert into line_users (user_id, friend, state_event_at) values (${ghost}, true, now()) on conflict (user_id) do update set friend = true`,
    );
    const res = await h.post({ memberId: m.memberId, scenario: "newsletter", urgency: "days", ...text() });
    expect(res.body.route.channel).toBe("push");
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("failed");
    expect(n.timeline.at(-1).detail.reason).toMatch(/LINE 400/);
  });

  it("gives up after the last attempt: SMS when allowed, else failed", async () => {
    const w = h.newWorker({ maxAttempts: 2 });
    toTaipeiMorning(h); // the fallback SMS goes at once, not at the end of the quiet hours
    const a = await h.member({ bind: true, follow: true });
    const b = await h.member({ bind: true, follow: true });
    h.emulator.setFaults({ serverError: { endpoint: "push", count: 100 } });
    const withSms = await h.post({ memberId: a.memberId, scenario: "shipping", urgency: "day", ...text() });
    const noSms = await h.post({ memberId: b.memberId, scenario: "shipping", urgency: "days", ...text() });
    await w.runUntilIdle();
    h.t.clock.advance(20 * MIN);
    await w.runUntilIdle();
    h.emulator.clearFaults();
    const na = await h.get(withSms.body.id);
    const nb = await h.get(noSms.body.id);
    expect(na.status).toBe("sms_sent");
    expect(states(na)).toEqual(["accepted", "queued", "retry_scheduled", "fallback_sms", "sms_sent"]);
    expect(nb.status).toBe("failed");
    expect(nb.timeline.at(-1).detail.reason).toMatch(/gave up after 2 attempts/);
    expect(acceptedFor((x) => x.kind === "push" && (x.to === a.userId || x.to === b.userId))).toHaveLength(0);
  });
});
