import { randomUUID } from "node:crypto";
import { sql } from "@oa-notify/db";
import { verifyViewToken } from "@oa-notify/server/lib/view-token.ts";
import { nextStepUrl, smsSegments } from "@oa-notify/server/notify/render.ts";
import { idFromShortCode, shortCode } from "@oa-notify/server/notify/short-link.ts";
import { renderSmsText } from "@oa-notify/server/sandbox/render.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestContext } from "../helpers/app.ts";
import { HOUR, MIN, type NotifyHarness, notifyHarness, toTaipeiMorning } from "./harness.ts";

/** A production-like public address: the link's length is what the SMS pays for. */
const BASE = "https://notify.example.com.tw";
const SHORT = new RegExp(`${BASE.replace(/\./g, "\\.")}/n/([A-Za-z0-9_-]{22})(?=\\s|$)`);

let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness({ env: { PUBLIC_BASE_URL: BASE } });
});
afterAll(async () => h?.close());

const states = (n: { timeline: { state: string }[] }) => n.timeline.map((e) => e.state);
const codeIn = (smsText: string) => SHORT.exec(smsText)?.[1] ?? null;

describe("short next-step link in the SMS", () => {
  it("a fallback SMS carries the short link, the Taipei time and the ignore line, in 2 parts instead of 6+", async () => {
    // Issued at 16:30 UTC on 26 Nov 2026 = 00:30 on the 27th in Taipei (UTC+8): the SMS shows the Taipei date and a
    // 00 hour (not 24). Written out by hand, not with the code's own formatter.
    h.t.clock.set(Date.parse("2026-11-26T16:30:00Z"));
    const issued = "2026/11/27 00:30";
    const m = await h.member({ sim: { blocked: true } }); // PNP accepted, never delivered: the SMS follows
    const body = "本期帳單 NT$1,234 將於 12/01 到期，請於期限前繳費";
    const step = { type: "bill" as const, id: await h.record("bill", m.memberId, `b-${randomUUID().slice(0, 8)}`) };
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "hour", text: body, nextStep: step });
    expect(res.status).toBe(202);
    await h.run();
    h.t.clock.advance(15 * MIN + 1000);
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    const [sms] = h.emulator.smsInbox(m.e164);
    expect(sms).toBeDefined();
    const textSent = sms!.text;
    expect(textSent).toContain(body);
    expect(textSent).toContain(issued);
    expect(textSent).toContain("若您已完成繳費，請忽略此訊息");
    expect(textSent).not.toContain("liff.line.me");
    expect(textSent).not.toContain("?t=");
    const code = codeIn(textSent);
    expect(code).toBe(shortCode(res.body.id));
    expect(textSent.split("\n")).toEqual([`${issued} ${body}`, `${BASE}/n/${code}`, "若您已完成繳費，請忽略此訊息"]);

    // What the same notice cost before: the LIFF URL with its view token and the bilingual lines.
    const longUrl = await nextStepUrl(
      { appSecret: h.t.config.appSecret, liffId: h.t.config.line.liffId, publicBaseUrl: BASE },
      res.body.id,
      step,
      h.t.clock.now(),
    );
    const before = [
      body,
      longUrl,
      `通知時間 Notice time: ${issued} (台北時間 Taipei)`,
      "若您已完成，請忽略此訊息 / Please ignore this message if already done.",
    ].join("\n");
    const now = smsSegments(textSent);
    const was = smsSegments(before);
    expect(now.encoding).toBe("ucs2");
    expect(now.segments).toBeLessThanOrEqual(2);
    expect(was.segments).toBeGreaterThanOrEqual(6);
    expect(textSent.length * 3).toBeLessThan(before.length);
  });

  it("GET /n/:code redirects to the LIFF page with a fresh view token, without recording a view; the page view does", async () => {
    toTaipeiMorning(h); // the 4 h fallback lands in the afternoon, outside the quiet hours
    const m = await h.member({ sim: { blocked: true } });
    const step = { type: "bill" as const, id: `b-${randomUUID().slice(0, 8)}` };
    const put = await request(h.t.app)
      .put(`/api/v1/bills/${step.id}`)
      .set({ Authorization: `Bearer ${h.t.config.apiKeys[0]!}` })
      .send({ memberId: m.memberId, status: "unpaid", amountTwd: 1234 });
    expect(put.status).toBe(201);
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", text: "帳單通知", nextStep: step });
    await h.run();
    h.t.clock.advance(4 * HOUR + 1000);
    await h.run();
    const code = codeIn(h.emulator.smsInbox(m.e164)[0]!.text)!;
    expect(code).toHaveLength(22);

    const go = await request(h.t.app).get(`/n/${code}`);
    expect(go.status).toBe(302);
    expect(go.headers["cache-control"]).toBe("no-store");
    const loc = new URL(go.headers["location"]!, "http://server.local");
    expect(loc.origin).toBe("http://server.local"); // sandbox: this server's LIFF app, not liff.line.me
    expect(loc.pathname).toBe(`/liff/bills/${step.id}`);
    const token = loc.searchParams.get("t")!;
    expect(await verifyViewToken(h.t.config.appSecret, token, h.t.clock.now())).toEqual({ nid: res.body.id, type: "bill", id: step.id });
    let n = await h.get(res.body.id);
    expect(n.seenAt).toBeNull();
    expect(states(n)).not.toContain("seen");

    // The sandbox console links SMS as /n/<code>?sandboxUser=…; the LIFF app needs that simulated user.
    const viaConsole = await request(h.t.app).get(`/n/${code}?sandboxUser=${m.userId}`);
    expect(new URL(viaConsole.headers["location"]!, "http://x").searchParams.get("sandboxUser")).toBe(m.userId);
    const junk = await request(h.t.app).get(`/n/${code}?sandboxUser=${encodeURIComponent("x&t=evil")}`);
    expect(new URL(junk.headers["location"]!, "http://x").searchParams.get("sandboxUser")).toBeNull();

    // The page the link opens, with that token: the view is recorded.
    const idToken = await h.emulator.mintIdToken(m.userId!);
    const page = await request(h.t.app)
      .get(`/liff-api/bills/${step.id}`)
      .query({ t: token })
      .set({ Authorization: `Bearer ${idToken}` });
    expect(page.status).toBe(200);
    expect(page.body.viewer.access).toBe("view_token");
    n = await h.get(res.body.id);
    expect(n.seenAt).not.toBeNull();
    expect(states(n)).toContain("seen");

    // Neither the code nor the token reaches a log line.
    expect(h.t.logs.text).not.toContain(code);
    expect(h.t.logs.text).not.toContain(token);
    expect(h.t.logs.text).toContain("/n/[redacted]");
  });

  it("outside sandbox mode the redirect goes to liff.line.me/{LIFF_ID}", async () => {
    const prod: TestContext = await buildTestApp({
      db: h.t.db,
      clock: h.t.clock,
      env: {
        SANDBOX: "0",
        LINE_LOGIN_CHANNEL_ID: "2000000000",
        APP_SECRET: h.t.config.appSecret,
        LIFF_ID: "2000000001-prodliff",
        SMS_PROVIDER: "log",
        PUBLIC_BASE_URL: BASE,
      },
    });
    try {
      expect(prod.config.sandbox).toBe(false);
      const m = await h.member({ sim: false });
      await h.record("order", m.memberId, "o-prod-1");
      const res = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", text: "x", nextStep: { type: "order", id: "o-prod-1" } });
      expect(res.status).toBe(202);
      const go = await request(prod.app).get(`/n/${shortCode(res.body.id)}?sandboxUser=U${"a".repeat(32)}`);
      expect(go.status).toBe(302);
      const loc = new URL(go.headers["location"]!);
      expect(`${loc.origin}${loc.pathname}`).toBe("https://liff.line.me/2000000001-prodliff/orders/o-prod-1");
      expect([...loc.searchParams.keys()]).toEqual(["t"]);
      expect(await verifyViewToken(h.t.config.appSecret, loc.searchParams.get("t")!, h.t.clock.now())).toEqual({
        nid: res.body.id,
        type: "order",
        id: "o-prod-1",
      });
    } finally {
      await prod.close();
    }
  });

  it("answers the same bare 404 for a malformed code, an unknown id, no next step, and a link past 30 days", async () => {
    const m = await h.member({ sim: false });
    const noStep = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", text: "驗證碼 123456" });
    const old = await h.post({
      memberId: m.memberId,
      scenario: "otp",
      urgency: "minutes",
      text: "x",
      nextStep: { type: "order", id: await h.record("order", m.memberId) },
    });
    await h.t.db.query(sql`update notifications set created_at = created_at - interval '31 days' where id = ${old.body.id}`);
    const live = await h.post({
      memberId: m.memberId,
      scenario: "otp",
      urgency: "minutes",
      text: "x",
      nextStep: { type: "order", id: await h.record("order", m.memberId) },
    });
    expect((await request(h.t.app).get(`/n/${shortCode(live.body.id)}`)).status).toBe(302);
    // The same 16 bytes spelt with the last character's 4 spare bits set: not the canonical code.
    const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const liveCode = shortCode(live.body.id);
    const nonCanonical = liveCode.slice(0, 21) + b64[b64.indexOf(liveCode[21]!) + 1]!;
    const valid = shortCode(randomUUID());
    const codes = [
      "abc",
      `${valid}x`,
      valid.replace(/^./, "*"),
      valid, // a well-formed code naming no notification
      shortCode(noStep.body.id),
      shortCode(old.body.id),
      nonCanonical,
    ];
    for (const c of codes) {
      const r = await request(h.t.app).get(`/n/${encodeURIComponent(c)}`);
      expect(r.status, c).toBe(404);
      expect(r.body, c).toEqual({ error: { code: "not_found", message: "link not found" } });
      expect(r.headers["location"]).toBeUndefined();
    }
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0); // nothing was run: no side effect either
  });

  it("an SMS-only notice (minutes) uses the short link and no fallback lines; one part when short", async () => {
    const m = await h.member({ sim: false });
    const res = await h.post({
      memberId: m.memberId,
      scenario: "payment",
      urgency: "minutes",
      text: "刷卡通知 NT$2,000",
      nextStep: { type: "order", id: await h.record("order", m.memberId) },
    });
    await h.run();
    const [sms] = h.emulator.smsInbox(m.e164);
    expect(sms!.text).toBe(`刷卡通知 NT$2,000\n${BASE}/n/${shortCode(res.body.id)}`);
    expect(smsSegments(sms!.text).segments).toBe(1);
  });
});

describe("codes and segments", () => {
  it("a code is the uuid's 16 bytes in base64url (22 chars) and decodes back; only the canonical spelling", () => {
    for (let i = 0; i < 200; i++) {
      const id = randomUUID();
      const c = shortCode(id);
      expect(c).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(idFromShortCode(c)).toBe(id);
    }
    const c = shortCode("00000000-0000-4000-8000-000000000000");
    expect(c).toBe("AAAAAAAAQACAAAAAAAAAAA");
    expect(idFromShortCode("AAAAAAAAQACAAAAAAAAAAB")).toBeNull(); // spare bits set: not canonical
    expect(idFromShortCode("AAAAAAAAQACAAAAAAAAAA")).toBeNull();
    expect(idFromShortCode("AAAAAAAAQACAAAAAAAAAA=")).toBeNull();
  });

  it("the sandbox console links an SMS short link on this server, naming the simulated user", () => {
    const code = shortCode(randomUUID());
    const user = `U${"b".repeat(32)}`;
    const r = renderSmsText(`帳單 ${BASE}/n/${code}\n若您已完成，請忽略此訊息`, "123-abc", user);
    expect(r.links).toEqual([{ href: `/n/${code}?sandboxUser=${user}`, original: `${BASE}/n/${code}` }]);
    expect(renderSmsText(`${BASE}/n/${code}`, "123-abc").links[0]!.href).toBe(`/n/${code}`);
  });

  it("counts UCS-2 parts at 70/67 and GSM-7 parts at 160/153", () => {
    expect(smsSegments("中".repeat(70))).toEqual({ encoding: "ucs2", units: 70, segments: 1 });
    expect(smsSegments("中".repeat(71)).segments).toBe(2);
    expect(smsSegments("中".repeat(134)).segments).toBe(2);
    expect(smsSegments("中".repeat(135)).segments).toBe(3);
    expect(smsSegments("a".repeat(160))).toEqual({ encoding: "gsm7", units: 160, segments: 1 });
    expect(smsSegments("a".repeat(161)).segments).toBe(2);
    expect(smsSegments("{".repeat(80))).toEqual({ encoding: "gsm7", units: 160, segments: 1 });
    expect(smsSegments(`${"a".repeat(100)}中`).encoding).toBe("ucs2");
  });
});
