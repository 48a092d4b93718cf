import { randomUUID } from "node:crypto";
import { validateSignature } from "@line/bot-sdk";
import { ManualClock } from "@oa-notify/server";
import { normalizePhone, phoneHash } from "@oa-notify/server/lib/phone.ts";
import type { StartedLineEmulator } from "@oa-notify/server/sandbox/emulator.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMU_SECRET, EMU_TOKEN, randomTwPhone, sdkClient, sdkError, startEmulator, webhookReceiver } from "./helpers.ts";

const e164 = (p: string) => {
  const n = normalizePhone(p);
  if (!n.ok) throw new Error(n.reason);
  return n.e164;
};
const hashOf = (p: string) => phoneHash(e164(p));
const tag = () => `t${randomUUID().replace(/-/g, "")}`;
const text = (t: string) => ({ type: "text" as const, text: t });

let emu: StartedLineEmulator;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let clock: ManualClock;
beforeAll(async () => {
  hook = await webhookReceiver();
  clock = new ManualClock(Date.parse("2026-11-26T02:00:00Z"));
  emu = await startEmulator({ webhookUrl: hook.url, clock });
});
afterAll(async () => {
  await emu.close();
  await hook.close();
});

const deliveriesFor = (data: string) => hook.received.flatMap((w) => w.body.events).filter((e) => e.type === "delivery" && e.delivery.data === data);

describe("push (SDK client)", () => {
  it("answers 200 with sentMessages and x-line-request-id, and delivers to a friend", async () => {
    const u = emu.createUser({ friend: true });
    const { httpResponse, body } = await sdkClient(emu).pushMessageWithHttpInfo({ to: u.userId, messages: [text("hello")] });
    expect(httpResponse.status).toBe(200);
    expect(httpResponse.headers.get("x-line-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.sentMessages).toHaveLength(1);
    expect(body.sentMessages[0]!.id).toMatch(/^\d+$/);
    const inbox = emu.inbox(u.userId);
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({ kind: "push", delivered: true, messages: [text("hello")] });
  });

  it("a repeated X-Line-Retry-Key gets 409 with x-line-accepted-request-id and the original sentMessages, sent once", async () => {
    const u = emu.createUser({ friend: true });
    const key = randomUUID();
    const first = await sdkClient(emu).pushMessageWithHttpInfo({ to: u.userId, messages: [text("once")] }, key);
    const err = await sdkError(sdkClient(emu).pushMessage({ to: u.userId, messages: [text("once")] }, key));
    expect(err.status).toBe(409);
    expect(err.headers.get("x-line-accepted-request-id")).toBe(first.httpResponse.headers.get("x-line-request-id"));
    expect(err.headers.get("x-line-request-id")).not.toBe(first.httpResponse.headers.get("x-line-request-id"));
    expect(err.body.message).toBe("The retry key is already accepted");
    expect(err.body.sentMessages).toEqual(first.body.sentMessages);
    expect(emu.inbox(u.userId)).toHaveLength(1);
    expect(emu.accepted().filter((a) => a.retryKey === key)).toHaveLength(1);
  });

  it("forgets a retry key after 24 hours (the same key is then a new request)", async () => {
    const u = emu.createUser({ friend: true });
    const key = randomUUID();
    await sdkClient(emu).pushMessage({ to: u.userId, messages: [text("a")] }, key);
    clock.advance(24 * 3600_000 + 1000);
    const again = await sdkClient(emu).pushMessageWithHttpInfo({ to: u.userId, messages: [text("a")] }, key);
    expect(again.httpResponse.status).toBe(200);
    expect(emu.inbox(u.userId)).toHaveLength(2);
  });

  it("answers 200 but delivers nothing to a non-friend or a blocked user", async () => {
    const stranger = emu.createUser({ friend: false });
    const blocked = emu.createUser({ friend: false, blocked: true });
    for (const u of [stranger, blocked]) {
      const r = await sdkClient(emu).pushMessageWithHttpInfo({ to: u.userId, messages: [text("hi")] });
      expect(r.httpResponse.status).toBe(200);
      expect(emu.inbox(u.userId)[0]).toMatchObject({ delivered: false });
    }
    expect(emu.inbox(blocked.userId)[0]!.status).toBe("blocked");
    expect(emu.inbox(stranger.userId)[0]!.status).toBe("not_friend");
  });

  it("rejects a bad token with 401 and an unknown user with 400", async () => {
    const u = emu.createUser({ friend: true });
    expect((await sdkError(sdkClient(emu, "wrong").pushMessage({ to: u.userId, messages: [text("x")] }))).status).toBe(401);
    const unknown = await sdkError(sdkClient(emu).pushMessage({ to: `U${"0".repeat(32)}`, messages: [text("x")] }));
    expect(unknown.status).toBe(400);
    expect(emu.inbox(u.userId)).toHaveLength(0);
  });
});

describe("OpenAPI validation (messaging-api.yml)", () => {
  it("accepts a well-formed flex message", async () => {
    const u = emu.createUser({ friend: true });
    const flex = {
      type: "flex" as const,
      altText: "訂單已出貨",
      contents: { type: "bubble" as const, body: { type: "box" as const, layout: "vertical" as const, contents: [{ type: "text" as const, text: "已出貨" }] } },
    };
    const r = await sdkClient(emu).pushMessageWithHttpInfo({ to: u.userId, messages: [flex] });
    expect(r.httpResponse.status).toBe(200);
  });

  it("rejects what LINE rejects with LINE-style details", async () => {
    const u = emu.createUser({ friend: true });
    const cases: [unknown, string][] = [
      [{ to: u.userId, messages: [{ type: "text" }] }, "messages[0].text"],
      [{ to: u.userId, messages: [] }, "messages"],
      [{ to: u.userId, messages: Array.from({ length: 6 }, () => text("x")) }, "messages"],
      [{ to: u.userId, messages: [{ type: "nonsense" }] }, "messages[0].type"],
      [{ messages: [text("x")] }, "to"],
      [{ to: u.userId, messages: [{ type: "flex", contents: { type: "bubble" } }] }, "messages[0].altText"],
      [{ to: u.userId, messages: [text("")] }, "messages[0].text"],
      [{ to: u.userId, messages: [text("x".repeat(5001))] }, "messages[0].text"],
    ];
    for (const [body, property] of cases) {
      const res = await fetch(`${emu.url}/v2/bot/message/push`, {
        method: "POST",
        headers: { authorization: `Bearer ${EMU_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.headers.get("x-line-request-id")).toBeTruthy();
      const json = (await res.json()) as { message: string; details: { property: string }[] };
      expect(json.message).toMatch(/^The request body has \d+ error\(s\)$/);
      expect(json.details.map((d) => d.property)).toContain(property);
    }
    expect(emu.inbox(u.userId)).toHaveLength(0);
  });

  it("rejects a retry key that is not a UUID", async () => {
    const u = emu.createUser({ friend: true });
    const err = await sdkError(sdkClient(emu).pushMessage({ to: u.userId, messages: [text("x")] }, "KEYKEYKEYKEY"));
    expect(err.status).toBe(400);
    expect(err.body.details[0].property).toBe("X-Line-Retry-Key");
  });

  it("rejects bad JSON with 400", async () => {
    const res = await fetch(`${emu.url}/v2/bot/message/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${EMU_TOKEN}`, "content-type": "application/json" },
      body: '{"to":',
    });
    expect(res.status).toBe(400);
  });
});

describe("flexible PNP (SDK pushMessagesByPhone)", () => {
  it("delivers to a consenting user and sends a delivery webhook signed with the channel secret (data = tag)", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone, pnpConsent: "yes" });
    const t = tag();
    const r = await sdkClient(emu).pushMessagesByPhoneWithHttpInfo({ to: hashOf(phone), messages: [text("您的包裹已送達")] }, t);
    expect(r.httpResponse.status).toBe(200);
    expect(r.body).toEqual({});
    await emu.flushDeliveries();
    const hooks = hook.received.filter((w) => w.body.events.some((e) => e.delivery?.data === t));
    expect(hooks).toHaveLength(1);
    const w = hooks[0]!;
    expect(validateSignature(w.raw, EMU_SECRET, w.signature!)).toBe(true);
    expect(validateSignature(w.raw, "another-secret", w.signature!)).toBe(false);
    const ev = w.body.events.find((e) => e.delivery?.data === t);
    expect(ev).toMatchObject({ type: "delivery", mode: "active", deliveryContext: { isRedelivery: false } });
    expect(ev.webhookEventId).toMatch(/^[0-9A-Z]{26}$/);
    expect(ev.source).toBeUndefined();
    expect(w.body.destination).toMatch(/^U[0-9a-f]{32}$/);
    expect(emu.inbox(u.userId)[0]).toMatchObject({ kind: "pnp", delivered: true, deliveryTag: t });
  });

  it("uses the phone hash as delivery.data when no tag is sent", async () => {
    const phone = randomTwPhone();
    emu.createUser({ phone });
    await sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] });
    await emu.flushDeliveries();
    expect(deliveriesFor(hashOf(phone))).toHaveLength(1);
  });

  it("answers 422 at once for an unknown number and for refused consent; nothing is delivered", async () => {
    const refused = randomTwPhone();
    const u = emu.createUser({ phone: refused, pnpConsent: "no" });
    for (const p of [randomTwPhone(), refused]) {
      const t = tag();
      const err = await sdkError(sdkClient(emu).pushMessagesByPhone({ to: hashOf(p), messages: [text("x")] }, t));
      expect(err.status).toBe(422);
      expect(err.body).toEqual({ message: "Failed to send messages" });
      await emu.flushDeliveries();
      expect(deliveriesFor(t)).toHaveLength(0);
    }
    expect(emu.inbox(u.userId)).toHaveLength(0);
  });

  it("answers 200 for a blocked user and stays silent (no delivery webhook, not even after unblocking)", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone, blocked: true });
    const t = tag();
    const r = await sdkClient(emu).pushMessagesByPhoneWithHttpInfo({ to: hashOf(phone), messages: [text("x")] }, t);
    expect(r.httpResponse.status).toBe(200);
    await emu.follow(u.userId, { isUnblocked: true });
    await emu.flushDeliveries();
    expect(deliveriesFor(t)).toHaveLength(0);
    expect(emu.inbox(u.userId)[0]).toMatchObject({ delivered: false, status: "blocked" });
  });

  it("holds a PNP while consent is unset and delivers it when the user consents", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone, pnpConsent: "unset" });
    const t = tag();
    await sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, t);
    await emu.flushDeliveries();
    expect(deliveriesFor(t)).toHaveLength(0);
    expect(emu.inbox(u.userId)[0]).toMatchObject({ delivered: false, status: "held" });
    await emu.consentNow(u.userId);
    await emu.flushDeliveries();
    expect(deliveriesFor(t)).toHaveLength(1);
    expect(emu.inbox(u.userId)[0]).toMatchObject({ delivered: true, status: "delivered" });
  });

  it("holds a PNP when SMS verification is older than 180 days, and delivers after verifyNow", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone, lastSmsVerifiedAt: new Date(clock.now().getTime() - 181 * 86400_000) });
    const t = tag();
    await sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, t);
    await emu.flushDeliveries();
    expect(deliveriesFor(t)).toHaveLength(0);
    await emu.verifyNow(u.userId);
    await emu.flushDeliveries();
    expect(deliveriesFor(t)).toHaveLength(1);
  });

  it("drops a held PNP after 24 hours: consenting later delivers nothing", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone, pnpConsent: "unset" });
    const t = tag();
    await sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, t);
    clock.advance(24 * 3600_000 + 60_000);
    await emu.consentNow(u.userId);
    await emu.flushDeliveries();
    expect(deliveriesFor(t)).toHaveLength(0);
    expect(emu.inbox(u.userId)[0]).toMatchObject({ delivered: false, status: "dropped" });
  });

  it("rejects a bad hash, a retry key, an image message and a short delivery tag with 400, accepting nothing", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone });
    const before = emu.accepted().length;
    const bad = await sdkError(sdkClient(emu).pushMessagesByPhone({ to: e164(phone), messages: [text("x")] }));
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      message: "The request body has 1 error(s)",
      details: [{ message: "The value must be a valid SHA-256 digest.", property: "to" }],
    });
    const upper = await sdkError(sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone).toUpperCase(), messages: [text("x")] }));
    expect(upper.status).toBe(400);

    const withKey = await fetch(`${emu.url}/bot/pnp/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${EMU_TOKEN}`, "content-type": "application/json", "x-line-retry-key": randomUUID() },
      body: JSON.stringify({ to: hashOf(phone), messages: [text("x")] }),
    });
    expect(withKey.status).toBe(400);
    expect(withKey.headers.get("x-line-request-id")).toBeTruthy();

    const image = await sdkError(
      sdkClient(emu).pushMessagesByPhone({
        to: hashOf(phone),
        messages: [{ type: "image", originalContentUrl: "https://example.com/a.jpg", previewImageUrl: "https://example.com/a.jpg" }],
      }),
    );
    expect(image.status).toBe(400);
    expect(image.body.details[0].property).toBe("messages[0].type");

    const shortTag = await sdkError(sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, "short"));
    expect(shortTag.status).toBe(400);
    expect(shortTag.body.details[0].property).toBe("X-Line-Delivery-Tag");

    expect(emu.accepted().length).toBe(before);
    expect(emu.inbox(u.userId)).toHaveLength(0);
  });

  it("counts delivered PNPs by UTC+9 day", async () => {
    const c = new ManualClock(Date.parse("2030-01-01T16:30:00Z")); // 2030-01-02 01:30 in Tokyo/UTC+9
    const e = await startEmulator({ clock: c });
    try {
      const phone = randomTwPhone();
      emu.createUser({}); // unrelated
      e.createUser({ phone });
      await sdkClient(e).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] });
      await sdkClient(e).pushMessagesByPhone({ to: hashOf(phone), messages: [text("y")] });
      expect(await sdkClient(e).getPNPMessageStatistics("20300102")).toEqual({ status: "ready", success: 2 });
      expect(await sdkClient(e).getPNPMessageStatistics("20300101")).toEqual({ status: "ready", success: 0 });
      expect((await sdkError(sdkClient(e).getPNPMessageStatistics("2030-01-02"))).status).toBe(400);
    } finally {
      await e.close();
    }
  });
});

describe("delivery counts (GET /v2/bot/message/delivery/push)", () => {
  it("counts delivered pushes by UTC+9 day (a non-friend's push is not delivered, so not counted); a future day is unready", async () => {
    const c = new ManualClock(Date.parse("2030-03-01T14:30:00Z")); // 23:30 on 03-01 in UTC+9
    const e = await startEmulator({ clock: c });
    try {
      const friend = e.createUser({ friend: true });
      const stranger = e.createUser({ friend: false });
      await sdkClient(e).pushMessage({ to: friend.userId, messages: [text("a")] });
      await sdkClient(e).pushMessage({ to: stranger.userId, messages: [text("b")] });
      c.advance(60 * 60_000); // 00:30 on 03-02 in UTC+9 (still 03-01 in UTC)
      await sdkClient(e).pushMessage({ to: friend.userId, messages: [text("c")] });
      await sdkClient(e).pushMessage({ to: friend.userId, messages: [text("d")] });
      expect(await sdkClient(e).getNumberOfSentPushMessages("20300301")).toEqual({ status: "ready", success: 1 });
      expect(await sdkClient(e).getNumberOfSentPushMessages("20300302")).toEqual({ status: "ready", success: 2 });
      expect(await sdkClient(e).getNumberOfSentPushMessages("20300303")).toEqual({ status: "unready" });
      expect((await sdkError(sdkClient(e).getNumberOfSentPushMessages("2030-03-02"))).status).toBe(400);
      const noToken = await fetch(`${e.url}/v2/bot/message/delivery/push?date=20300302`);
      expect(noToken.status).toBe(401);
    } finally {
      await e.close();
    }
  });
});

describe("template PNP", () => {
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${emu.url}/v2/bot/message/pnp/templated/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${EMU_TOKEN}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  it("answers 202 {} and delivers with the tag", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone });
    const t = tag();
    const res = await post(
      {
        to: hashOf(phone),
        templateKey: "shipment_completed_tw",
        body: {
          emphasizedItem: { itemKey: "date_001_tw", content: "11/27" },
          items: [{ itemKey: "number_001_tw", content: "A123" }],
          buttons: [{ buttonKey: "check_tw", url: "https://liff.line.me/1234567890-sandbox/orders/A123?t=x" }],
        },
      },
      { "x-line-delivery-tag": t },
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({});
    await emu.flushDeliveries();
    expect(deliveriesFor(t)).toHaveLength(1);
    expect(emu.inbox(u.userId)[0]).toMatchObject({ kind: "pnp_template", delivered: true, template: { templateKey: "shipment_completed_tw" } });
  });

  it("rejects bodies that break the documented rules with 400 and LINE-style details", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone });
    const to = hashOf(phone);
    const cases: [unknown, string][] = [
      [{ to: "abc", templateKey: "k" }, "to"],
      [{ to }, "templateKey"],
      [{ to, templateKey: "k", body: { emphasizedItem: { itemKey: "a", content: "x".repeat(16) } } }, "body.emphasizedItem.content"],
      [{ to, templateKey: "k", body: { items: Array.from({ length: 16 }, (_, i) => ({ itemKey: `i${i}`, content: "x" })) } }, "body.items"],
      [{ to, templateKey: "k", body: { items: [{ itemKey: "a", content: "x".repeat(301) }] } }, "body.items[0].content"],
      [{ to, templateKey: "k", body: { buttons: [1, 2, 3].map((i) => ({ buttonKey: `b${i}`, url: "https://e.com" })) } }, "body.buttons"],
      [{ to, templateKey: "k", body: { buttons: [{ buttonKey: "b", url: `https://e.com/${"x".repeat(1000)}` }] } }, "body.buttons[0].url"],
      [{ to, templateKey: "k", body: { emphasizedItem: { itemKey: "a", content: "1" }, items: [{ itemKey: "a", content: "x" }] } }, "body.items[0].itemKey"],
    ];
    for (const [body, property] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const json = (await res.json()) as { details: { property: string }[] };
      expect(json.details.map((d) => d.property)).toContain(property);
    }
    expect((await post({ to, templateKey: "k" }, { "x-line-retry-key": randomUUID() })).status).toBe(400);
    expect(emu.inbox(u.userId)).toHaveLength(0);
    expect((await post({ to: hashOf(randomTwPhone()), templateKey: "k" })).status).toBe(422);
  });
});

describe("users, followers, profile, quota", () => {
  it("pages followers with limit and next, excluding non-friends and blocked users", async () => {
    const e = await startEmulator();
    try {
      const friends = Array.from({ length: 7 }, () => e.createUser({ friend: true }).userId);
      e.createUser({ friend: false });
      e.createUser({ friend: true, blocked: true });
      const seen: string[] = [];
      let start: string | undefined;
      let pages = 0;
      do {
        const r = await sdkClient(e).getFollowers(start, 3);
        expect(r.userIds.length).toBeLessThanOrEqual(3);
        seen.push(...r.userIds);
        start = r.next;
        pages++;
      } while (start);
      expect(pages).toBe(3);
      expect(seen).toEqual(friends);
      expect((await sdkError(sdkClient(e).getFollowers(undefined, 1001))).status).toBe(400);
      expect((await sdkError(sdkClient(e).getFollowers("garbage!", 10))).status).toBe(400);
    } finally {
      await e.close();
    }
  });

  it("serves a friend's profile and 404 for a non-friend", async () => {
    const f = emu.createUser({ friend: true, displayName: "王小明" });
    const s = emu.createUser({ friend: false });
    expect(await sdkClient(emu).getProfile(f.userId)).toMatchObject({ userId: f.userId, displayName: "王小明" });
    expect((await sdkError(sdkClient(emu).getProfile(s.userId))).status).toBe(404);
  });

  it("reports quota and this month's consumption", async () => {
    const e = await startEmulator();
    try {
      const u = e.createUser({ friend: true });
      await sdkClient(e).pushMessage({ to: u.userId, messages: [text("1")] });
      await sdkClient(e).pushMessage({ to: u.userId, messages: [text("2")] });
      expect(await sdkClient(e).getMessageQuota()).toMatchObject({ type: "none" });
      expect(await sdkClient(e).getMessageQuotaConsumption()).toEqual({ totalUsage: 2 });
    } finally {
      await e.close();
    }
  });

  it("follow, unfollow and text send signed webhooks with LINE's shapes", async () => {
    const u = emu.createUser();
    await emu.follow(u.userId);
    expect(emu.getUser(u.userId)).toMatchObject({ friend: true, blocked: false });
    await emu.sendText(u.userId, "哈囉");
    await emu.unfollow(u.userId);
    expect(emu.getUser(u.userId)).toMatchObject({ friend: false, blocked: true });
    await emu.follow(u.userId);
    const events = hook.received
      .filter((w) => validateSignature(w.raw, EMU_SECRET, w.signature!))
      .flatMap((w) => w.body.events)
      .filter((e) => e.source?.userId === u.userId);
    expect(events.map((e) => e.type)).toEqual(["follow", "message", "unfollow", "follow"]);
    expect(events[0].follow).toEqual({ isUnblocked: false });
    expect(events[3].follow).toEqual({ isUnblocked: true });
    expect(events[1].message).toMatchObject({ type: "text", text: "哈囉" });
    expect(typeof events[0].replyToken).toBe("string");
    expect(
      emu
        .webhookLog()
        .filter((l) => l.body.includes(u.userId))
        .every((l) => l.status === 200),
    ).toBe(true);
  });
});

describe("webhook redelivery and multicast", () => {
  it("redelivers a webhook our server failed, with isRedelivery: true and the same webhookEventId", async () => {
    let calls = 0;
    const flaky = await webhookReceiver(() => (++calls === 1 ? 500 : 200));
    const e = await startEmulator({ webhookUrl: flaky.url });
    try {
      const phone = randomTwPhone();
      e.createUser({ phone });
      const t = tag();
      await sdkClient(e).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, t);
      await e.flushDeliveries();
      const events = flaky.received.flatMap((w) => w.body.events).filter((ev) => ev.delivery?.data === t);
      expect(events).toHaveLength(2);
      expect(events.map((ev) => ev.deliveryContext.isRedelivery)).toEqual([false, true]);
      expect(events[1].webhookEventId).toBe(events[0].webhookEventId);
      expect(flaky.received.every((w) => validateSignature(w.raw, EMU_SECRET, w.signature!))).toBe(true);
      expect(e.webhookLog().map((l) => l.status)).toEqual([500, 200]);
    } finally {
      await e.close();
      await flaky.close();
    }
  });

  it("multicast answers 200 and delivers only to reachable users", async () => {
    const f = emu.createUser({ friend: true });
    const s = emu.createUser({ friend: false });
    const r = await sdkClient(emu).multicastWithHttpInfo({ to: [f.userId, s.userId], messages: [text("大家好")] }, randomUUID());
    expect(r.httpResponse.status).toBe(200);
    expect(emu.inbox(f.userId)[0]).toMatchObject({ delivered: true });
    expect(emu.inbox(s.userId)[0]).toMatchObject({ delivered: false, status: "not_friend" });
  });
});
