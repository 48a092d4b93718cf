import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { messagingApi } from "@line/bot-sdk";
import { type App, type Config, createApp, createLineApi, createLogger, ManualClock } from "@oa-notify/server";
import { normalizePhone, phoneHash } from "@oa-notify/server/lib/phone.ts";
import { linkable, renderInboxItem, rewriteLiffUrl } from "@oa-notify/server/sandbox/render.ts";
import { type SandboxRuntime, startSandbox } from "@oa-notify/server/sandbox/runtime.ts";
import { createRemoteJWKSet, jwtVerify } from "jose";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, LogCapture, testConfig } from "../helpers/app.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { randomTwPhone } from "./helpers.ts";

const hashOf = (p: string) => {
  const n = normalizePhone(p);
  if (!n.ok) throw new Error(n.reason);
  return phoneHash(n.e164);
};

let db: TestDb;
let config: Config;
let sandbox: SandboxRuntime;
let app: App;
let server: Server;
let dataDir: string;
const clock = new ManualClock(Date.parse("2026-11-26T02:00:00Z"));

async function boot() {
  sandbox = await startSandbox({ config, db, logger: createLogger("silent", new LogCapture()), clock });
  // As main.ts: the app's LINE client is built on the emulator's URL (the config is frozen and stays as it was).
  const line = createLineApi({ baseUrl: sandbox.emulator.url, channelAccessToken: config.line.channelAccessToken });
  app = createApp({ db, line, sms: sandbox.sms!, clock, logger: createLogger("silent", new LogCapture()), config, sandboxConsole: sandbox.console });
  server = createServer(app);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  sandbox.attach((server.address() as AddressInfo).port);
}
async function shutdown() {
  await new Promise<void>((r) => server.close(() => r()));
  await app.services.processor.drain();
  await sandbox.close();
}

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(join(tmpdir(), "oa-sandbox-"));
  config = testConfig({ DATA_DIR: dataDir, LINE_API_BASE_URL: undefined });
  await boot();
});
afterAll(async () => {
  await shutdown();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const sdk = () => new messagingApi.MessagingApiClient({ channelAccessToken: config.line.channelAccessToken, baseURL: sandbox.emulator.url });
const productFriend = async (userId: string) => {
  await app.services.processor.kick();
  const r = await request(app).get(`/api/v1/line-users/${userId}`).set(auth());
  return r.status === 200 ? (r.body.friend as boolean) : null;
};

describe("sandbox console API", () => {
  it("serves the zh-TW/English page at /sandbox", async () => {
    const r = await request(app).get("/sandbox");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/html/);
    expect(r.text).toContain("LINE 沙盒主控台");
    expect(r.text).toContain("Sandbox console");
  });

  it("serves the page, its script and stylesheet as static files under a strict CSP (no inline script or style)", async () => {
    const page = await request(app).get("/sandbox/");
    const csp = String(page.headers["content-security-policy"]);
    for (const d of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ]) {
      expect(csp).toContain(d);
    }
    expect(csp).not.toContain("unsafe");
    expect(page.text).not.toMatch(/<script(?![^>]*\ssrc=)|<style|\sstyle=|\son[a-z]+=/i);
    const js = await request(app).get("/sandbox/app.js");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toMatch(/javascript/);
    expect(js.text).not.toMatch(/\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write/); // text-only DOM writes
    const css = await request(app).get("/sandbox/app.css");
    expect(css.status).toBe(200);
    expect(css.headers["content-type"]).toMatch(/css/);
  });

  it("is not mounted outside sandbox mode", async () => {
    const plain = createApp({
      db,
      line: createLineApi({ baseUrl: "http://127.0.0.1:9", channelAccessToken: "x" }),
      sms: sandbox.sms!,
      clock,
      logger: createLogger("silent", new LogCapture()),
      config,
    });
    expect((await request(plain).get("/sandbox")).status).toBe(404);
    expect((await request(plain).get("/sandbox/api/users")).status).toBe(404);
  });

  it("leaves the config alone: it is frozen, and startSandbox hands out the emulator's URL instead", () => {
    expect(Object.isFrozen(config) && Object.isFrozen(config.line) && Object.isFrozen(config.apiKeys)).toBe(true);
    expect(() => {
      (config.line as { apiBaseUrl: string }).apiBaseUrl = sandbox.emulator.url;
    }).toThrow(TypeError);
    expect(config.line.apiBaseUrl).not.toBe(sandbox.emulator.url);
    expect(sandbox.emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("creates a user who follows: the product sees a friend through a signed follow webhook", async () => {
    const r = await request(app).post("/sandbox/api/users").send({ phone: randomTwPhone(), displayName: "測試甲", friend: true, pnpConsent: "unset" });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ displayName: "測試甲", friend: true, pnpConsent: "unset" });
    expect(await productFriend(r.body.userId)).toBe(true);
    const listed = (await request(app).get("/sandbox/api/users")).body.users.find((u: { userId: string }) => u.userId === r.body.userId);
    expect(listed.product).toMatchObject({ known: true, friend: true });
  });

  it("follow / unfollow / unblock buttons drive the product's friend state", async () => {
    const u = (await request(app).post("/sandbox/api/users").send({})).body;
    expect(await productFriend(u.userId)).toBe(null);
    expect((await request(app).post(`/sandbox/api/users/${u.userId}/follow`)).status).toBe(200);
    expect(await productFriend(u.userId)).toBe(true);
    clock.advance(1000);
    const un = await request(app).post(`/sandbox/api/users/${u.userId}/unfollow`);
    expect(un.body).toMatchObject({ friend: false, blocked: true });
    expect(await productFriend(u.userId)).toBe(false);
    clock.advance(1000);
    await request(app).post(`/sandbox/api/users/${u.userId}/unblock`);
    expect(await productFriend(u.userId)).toBe(true);
    const log = (await request(app).get("/sandbox/api/webhooks")).body.webhooks.filter((w: any) => w.events.some((e: any) => e.userId === u.userId));
    expect(log.map((w: any) => w.events[0].type)).toEqual(["follow", "unfollow", "follow"]);
    expect(log.every((w: any) => w.status === 200)).toBe(true);
  });

  it("rejects a bad phone or unknown fields with 400 and creates nothing", async () => {
    const before = (await request(app).get("/sandbox/api/users")).body.users.length;
    const bad = await request(app).post("/sandbox/api/users").send({ phone: "12345" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("validation_failed");
    expect((await request(app).post("/sandbox/api/users").send({ pnpConsent: "maybe" })).status).toBe(400);
    expect((await request(app).post("/sandbox/api/users").send({ hacker: 1 })).status).toBe(400);
    expect((await request(app).get("/sandbox/api/users")).body.users.length).toBe(before);
    expect((await request(app).post(`/sandbox/api/users/U${"f".repeat(32)}/follow`)).status).toBe(404);
  });

  it("renders the inbox: flex alt text and a next-step link rewritten to /liff as this user", async () => {
    const u = (await request(app).post("/sandbox/api/users").send({ friend: true })).body;
    const liff = `https://liff.line.me/${config.line.liffId}/orders/O-1?t=abc`;
    await sdk().pushMessage({
      to: u.userId,
      messages: [
        {
          type: "flex",
          altText: "訂單 O-1 已出貨",
          contents: {
            type: "bubble",
            body: { type: "box", layout: "vertical", contents: [{ type: "text", text: "已出貨 Shipped" }] },
            footer: { type: "box", layout: "vertical", contents: [{ type: "button", action: { type: "uri", label: "查看訂單", uri: liff } }] },
          },
        },
      ],
    });
    const inbox = (await request(app).get(`/sandbox/api/users/${u.userId}/inbox`)).body;
    expect(inbox.items[0]).toMatchObject({ kind: "push", delivered: true });
    expect(inbox.items[0].parts).toEqual(
      expect.arrayContaining([
        { type: "alt", text: "訂單 O-1 已出貨" },
        { type: "text", text: "已出貨 Shipped" },
        { type: "link", label: "查看訂單", href: `/liff/orders/O-1?t=abc&sandboxUser=${u.userId}`, original: liff },
      ]),
    );
  });

  it("renders template PNP items and buttons; consent now releases a held one", async () => {
    const phone = randomTwPhone();
    const u = (await request(app).post("/sandbox/api/users").send({ phone, pnpConsent: "unset" })).body;
    const res = await fetch(`${sandbox.emulator.url}/v2/bot/message/pnp/templated/push`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${config.line.channelAccessToken}`,
        "content-type": "application/json",
        "x-line-delivery-tag": "console-test-tag-0001",
      },
      body: JSON.stringify({
        to: hashOf(phone),
        templateKey: "bill_tw",
        body: {
          emphasizedItem: { itemKey: "price_tw", content: "NT$1,234" },
          items: [{ itemKey: "date_tw", content: "12/10" }],
          buttons: [{ buttonKey: "pay_tw", url: `https://liff.line.me/${config.line.liffId}/bills/B-9` }],
        },
      }),
    });
    expect(res.status).toBe(202);
    let item = (await request(app).get(`/sandbox/api/users/${u.userId}/inbox`)).body.items[0];
    expect(item).toMatchObject({ kind: "pnp_template", status: "held", delivered: false });
    expect(item.parts).toEqual(
      expect.arrayContaining([
        { type: "item", key: "price_tw", value: "NT$1,234", emphasized: true },
        { type: "item", key: "date_tw", value: "12/10" },
        { type: "link", label: "pay_tw", href: `/liff/bills/B-9?sandboxUser=${u.userId}`, original: `https://liff.line.me/${config.line.liffId}/bills/B-9` },
      ]),
    );
    const c = await request(app).post(`/sandbox/api/users/${u.userId}/consent`);
    expect(c.body.pnpConsent).toBe("yes");
    item = (await request(app).get(`/sandbox/api/users/${u.userId}/inbox`)).body.items[0];
    expect(item).toMatchObject({ status: "delivered", delivered: true });
    const hooks = (await request(app).get("/sandbox/api/webhooks")).body.webhooks;
    expect(hooks.some((w: any) => w.events.some((e: any) => e.type === "delivery" && e.data === "console-test-tag-0001") && w.status === 200)).toBe(true);
  });

  it("mints an ID token for the LIFF app that verifies against the emulator's JWKS", async () => {
    const u = (await request(app).post("/sandbox/api/users").send({ displayName: "小美", friend: true })).body;
    const r = await request(app).get(`/sandbox/api/users/${u.userId}/id-token`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ userId: u.userId, displayName: "小美", friend: true });
    const { payload } = await jwtVerify(r.body.idToken, createRemoteJWKSet(new URL(`${sandbox.emulator.url}/oauth2/v2.1/certs`)), {
      issuer: "https://access.line.me",
      audience: config.line.loginChannelId,
      currentDate: clock.now(),
    });
    expect(payload.sub).toBe(u.userId);
    // The product's LIFF API accepts it (verified with the same JWKS).
    const me = await request(app).get("/liff-api/me").set("authorization", `Bearer ${r.body.idToken}`);
    expect(me.status).toBe(200);
    expect(me.body.lineUserId).toBe(u.userId);
  });

  it("records SMS from the sandbox's log provider into the SMS inbox, for numbers with and without LINE", async () => {
    const phone = randomTwPhone();
    const u = (await request(app).post("/sandbox/api/users").send({ phone })).body;
    const e164 = (normalizePhone(phone) as { e164: string }).e164;
    await sandbox.sms!.send({ to: e164, text: `您的帳單 https://liff.line.me/${config.line.liffId}/bills/B-1?t=z`, reference: "n-1" });
    await sandbox.sms!.send({ to: "+886955000111", text: "無 LINE 的號碼", reference: "n-2" });
    const mine = (await request(app).get(`/sandbox/api/users/${u.userId}/sms`)).body;
    expect(mine.items[0]).toMatchObject({ reference: "n-1", links: [{ href: `/liff/bills/B-1?t=z&sandboxUser=${u.userId}` }] });
    const all = (await request(app).get("/sandbox/api/sms")).body.phones;
    expect(all.find((p: any) => p.phone === "+886955000111")).toMatchObject({ userId: null, items: [{ reference: "n-2" }] });
  });

  it("sets and clears faults; the emulator obeys them", async () => {
    const u = (await request(app).post("/sandbox/api/users").send({ friend: true })).body;
    const set = await request(app)
      .put("/sandbox/api/faults")
      .send({ rateLimit: { endpoint: "push", count: 1, retryAfterSeconds: 2 } });
    expect(set.status).toBe(200);
    await expect(sdk().pushMessage({ to: u.userId, messages: [{ type: "text", text: "x" }] })).rejects.toMatchObject({ status: 429 });
    await request(app)
      .put("/sandbox/api/faults")
      .send({ monthlyQuota: { on: true } });
    await expect(sdk().pushMessage({ to: u.userId, messages: [{ type: "text", text: "x" }] })).rejects.toMatchObject({ status: 429 });
    expect((await request(app).delete("/sandbox/api/faults")).body).toEqual({});
    await sdk().pushMessage({ to: u.userId, messages: [{ type: "text", text: "x" }] });
    expect((await request(app).put("/sandbox/api/faults").send({ latencyMs: -5 })).status).toBe(400);
  });

  it("keeps users, inboxes and SMS across a restart (state file in DATA_DIR)", async () => {
    const phone = randomTwPhone();
    const u = (await request(app).post("/sandbox/api/users").send({ phone, displayName: "重啟測試", friend: true })).body;
    await sdk().pushMessage({ to: u.userId, messages: [{ type: "text", text: "before restart" }] });
    const e164 = (normalizePhone(phone) as { e164: string }).e164;
    await sandbox.sms!.send({ to: e164, text: "sms before restart", reference: "r-1" });
    const token = await sandbox.emulator.mintIdToken(u.userId);
    const key = crypto.randomUUID();
    const first = await sdk().pushMessageWithHttpInfo({ to: u.userId, messages: [{ type: "text", text: "keyed" }] }, key);
    await shutdown();
    await boot();
    // The retry key is still remembered: a retry after the restart is a 409, not a second message.
    await expect(sdk().pushMessage({ to: u.userId, messages: [{ type: "text", text: "keyed" }] }, key)).rejects.toMatchObject({ status: 409 });
    expect(first.httpResponse.status).toBe(200);
    expect(sandbox.firstStart).toBe(false);
    const after = (await request(app).get(`/sandbox/api/users/${u.userId}`)).body;
    expect(after).toMatchObject({ displayName: "重啟測試", friend: true, phone: e164 });
    const inbox = (await request(app).get(`/sandbox/api/users/${u.userId}/inbox`)).body.items;
    expect(inbox.map((i: any) => i.parts[0].text)).toEqual(["keyed", "before restart"]);
    expect((await request(app).get(`/sandbox/api/users/${u.userId}/sms`)).body.items[0].reference).toBe("r-1");
    // The signing key survives too: a LIFF page opened before the restart keeps working.
    const me = await request(app).get("/liff-api/me").set("authorization", `Bearer ${token}`);
    expect(me.status).toBe(200);
  });
});

describe("links in the console", () => {
  it("are links only for http(s), line: and tel: URIs (and this server's own paths); anything else is text", () => {
    for (const ok of ["https://example.com/a", "http://x.test", "line://ti/p/@abc", "tel:+886912345678", "/liff/orders/1?sandboxUser=U1"])
      expect(linkable(ok)).toBe(true);
    for (const bad of [
      "javascript:alert(1)",
      " JavaScript:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:x",
      "file:///etc/passwd",
    ]) {
      expect(linkable(bad)).toBe(false);
    }
    const item = renderInboxItem(
      {
        kind: "push",
        at: "2026-11-26T02:00:00.000Z",
        requestId: "r",
        delivered: true,
        messages: [
          {
            type: "template",
            altText: "alt",
            template: {
              type: "buttons",
              text: "t",
              actions: [
                { type: "uri", label: "evil", uri: "javascript:alert(document.domain)" },
                { type: "uri", label: "call", uri: "tel:+886912345678" },
              ],
            },
          },
        ],
      },
      "123-abc",
      "Uaa",
    );
    expect(item.parts).toContainEqual({ type: "uri_text", label: "evil", uri: "javascript:alert(document.domain)" });
    expect(item.parts).toContainEqual({ type: "link", label: "call", href: "tel:+886912345678", original: "tel:+886912345678" });
  });
});

describe("LIFF link rewriting", () => {
  it("rewrites only our LIFF app's links", () => {
    expect(rewriteLiffUrl("https://liff.line.me/123-abc/orders/9?t=x", "123-abc", "Uaa")).toBe("/liff/orders/9?t=x&sandboxUser=Uaa");
    expect(rewriteLiffUrl("https://liff.line.me/123-abc", "123-abc", "Uaa")).toBe("/liff/?sandboxUser=Uaa");
    expect(rewriteLiffUrl("https://liff.line.me/123-abcdef/orders/9", "123-abc", "Uaa")).toBe("https://liff.line.me/123-abcdef/orders/9");
    expect(rewriteLiffUrl("https://example.com/pay", "123-abc", "Uaa")).toBe("https://example.com/pay");
  });
});
