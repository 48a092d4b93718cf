import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { HTTPFetchError } from "@line/bot-sdk";
import { normalizePhone, phoneHash } from "@oa-notify/server/lib/phone.ts";
import type { StartedLineEmulator } from "@oa-notify/server/sandbox/emulator.ts";
import { vendoredSpecPath } from "@oa-notify/server/sandbox/openapi.ts";
import { createRemoteJWKSet, jwtVerify } from "jose";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, TEST_SECRET } from "../helpers/app.ts";
import { EMU_LOGIN_CHANNEL, EMU_TOKEN, randomTwPhone, sdkClient, sdkError, startEmulator, webhookReceiver } from "./helpers.ts";

const hashOf = (p: string) => {
  const n = normalizePhone(p);
  if (!n.ok) throw new Error(n.reason);
  return phoneHash(n.e164);
};
const text = (t: string) => ({ type: "text" as const, text: t });
const tag = () => `t${randomUUID().replace(/-/g, "")}`;

let emu: StartedLineEmulator;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
beforeAll(async () => {
  hook = await webhookReceiver();
  emu = await startEmulator({ webhookUrl: hook.url });
});
afterAll(async () => {
  await emu.close();
  await hook.close();
});

describe("fault injection", () => {
  it("rate limit: 429 with Retry-After for `count` requests, nothing accepted, then normal again", async () => {
    const u = emu.createUser({ friend: true });
    emu.setFaults({ rateLimit: { endpoint: "push", count: 2, retryAfterSeconds: 7 } });
    try {
      for (let i = 0; i < 2; i++) {
        const err = await sdkError(sdkClient(emu).pushMessage({ to: u.userId, messages: [text("x")] }));
        expect(err.status).toBe(429);
        expect(err.headers.get("retry-after")).toBe("7");
        expect(err.body).toEqual({ message: "Too Many Requests" });
      }
      expect(emu.inbox(u.userId)).toHaveLength(0);
      // Another endpoint is unaffected by a push-only fault.
      expect(await sdkClient(emu).getFollowers()).toHaveProperty("userIds");
      const ok = await sdkClient(emu).pushMessageWithHttpInfo({ to: u.userId, messages: [text("x")] });
      expect(ok.httpResponse.status).toBe(200);
    } finally {
      emu.clearFaults();
    }
  });

  it("monthly quota: push gets LINE's 429 body while PNP still works; quota reports limited", async () => {
    const u = emu.createUser({ friend: true });
    const phone = randomTwPhone();
    emu.createUser({ phone });
    emu.setFaults({ monthlyQuota: { on: true } });
    try {
      const err = await sdkError(sdkClient(emu).pushMessage({ to: u.userId, messages: [text("x")] }, randomUUID()));
      expect(err.status).toBe(429);
      expect(err.body).toEqual({ message: "You have reached your monthly limit." });
      expect((await sdkClient(emu).getMessageQuota()).type).toBe("limited");
      const pnp = await sdkClient(emu).pushMessagesByPhoneWithHttpInfo({ to: hashOf(phone), messages: [text("x")] }, tag());
      expect(pnp.httpResponse.status).toBe(200);
      expect(emu.inbox(u.userId)).toHaveLength(0);
    } finally {
      emu.clearFaults();
    }
  });

  it("server error: 500 and the message is not accepted (a retry then succeeds once)", async () => {
    const phone = randomTwPhone();
    const u = emu.createUser({ phone });
    const t = tag();
    emu.setFaults({ serverError: { endpoint: "pnp", count: 1 } });
    try {
      const err = await sdkError(sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, t));
      expect(err.status).toBe(500);
      expect(emu.accepted().filter((a) => a.deliveryTag === t)).toHaveLength(0);
      await sdkClient(emu).pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, t);
      expect(emu.accepted().filter((a) => a.deliveryTag === t)).toHaveLength(1);
      expect(emu.inbox(u.userId)).toHaveLength(1);
    } finally {
      emu.clearFaults();
    }
  });

  it("dropped connection: the client gets no response; nothing is accepted", async () => {
    const u = emu.createUser({ friend: true });
    emu.setFaults({ dropConnection: { endpoint: "push", count: 1 } });
    try {
      const err = await sdkClient(emu)
        .pushMessage({ to: u.userId, messages: [text("x")] })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(HTTPFetchError);
      expect(emu.inbox(u.userId)).toHaveLength(0);
      expect(emu.requests().some((r) => r.status === 0 && r.path === "/v2/bot/message/push")).toBe(true);
    } finally {
      emu.clearFaults();
    }
  });

  it("dropped connection after accept: the client gets no response, yet the PNP is accepted and delivered", async () => {
    const phone = randomTwPhone();
    emu.createUser({ phone });
    const t = tag();
    emu.setFaults({ dropConnection: { endpoint: "pnp", count: 1, afterAccept: true } });
    try {
      const err = await sdkClient(emu)
        .pushMessagesByPhone({ to: hashOf(phone), messages: [text("x")] }, t)
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(HTTPFetchError);
      expect(emu.accepted().filter((a) => a.deliveryTag === t)).toHaveLength(1);
      await emu.flushDeliveries();
      expect(hook.received.flatMap((w) => w.body.events).filter((e) => e.delivery?.data === t)).toHaveLength(1);
    } finally {
      emu.clearFaults();
    }
  });

  it("added latency delays a response without blocking other requests", async () => {
    const u = emu.createUser({ friend: true });
    emu.setFaults({ latencyMs: 1500 });
    let slowDone = false;
    const slow = sdkClient(emu)
      .getProfile(u.userId)
      .then((r) => ((slowDone = true), r));
    // Once the slow request is inside the emulator (waiting out its latency), lift the latency for the next one.
    while (emu.inFlight() === 0) await new Promise((r) => setTimeout(r, 2));
    emu.clearFaults();
    expect(await sdkClient(emu).getFollowers()).toHaveProperty("userIds");
    expect(slowDone).toBe(false);
    expect(emu.inFlight()).toBe(1);
    expect((await slow).userId).toBe(u.userId);
  });
});

describe("LINE Login: JWKS and ID tokens", () => {
  it("serves ES256 keys with a kid that verify minted tokens (iss, aud, sub, name, exp)", async () => {
    const u = emu.createUser({ displayName: "陳小華" });
    const token = await emu.mintIdToken(u.userId, { nonce: "n-1" });
    const jwks = (await (await fetch(`${emu.url}/oauth2/v2.1/certs`)).json()) as { keys: { kid: string; alg: string; kty: string; crv: string; d?: string }[] };
    expect(jwks.keys[0]).toMatchObject({ alg: "ES256", kty: "EC", crv: "P-256" });
    expect(jwks.keys[0]!.kid).toBeTruthy();
    expect(jwks.keys[0]!.d).toBeUndefined();
    const set = createRemoteJWKSet(new URL(`${emu.url}/oauth2/v2.1/certs`));
    const { payload, protectedHeader } = await jwtVerify(token, set, { issuer: "https://access.line.me", audience: EMU_LOGIN_CHANNEL });
    expect(protectedHeader).toMatchObject({ alg: "ES256", kid: jwks.keys[0]!.kid });
    expect(payload).toMatchObject({ sub: u.userId, name: "陳小華", nonce: "n-1" });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("mints tokens for another audience or already expired, which verification rejects", async () => {
    const u = emu.createUser();
    const set = createRemoteJWKSet(new URL(`${emu.url}/oauth2/v2.1/certs`));
    const other = await emu.mintIdToken(u.userId, { aud: "999" });
    await expect(jwtVerify(other, set, { issuer: "https://access.line.me", audience: EMU_LOGIN_CHANNEL })).rejects.toThrow();
    const expired = await emu.mintIdToken(u.userId, { expiresInSeconds: -60 });
    await expect(jwtVerify(expired, set, { issuer: "https://access.line.me", audience: EMU_LOGIN_CHANNEL })).rejects.toThrow();
  });

  it("answers LINE's verify endpoint (form-encoded) with the payload, or 400 invalid_request", async () => {
    const u = emu.createUser();
    const token = await emu.mintIdToken(u.userId);
    const verify = (id_token: string, client_id: string) =>
      fetch(`${emu.url}/oauth2/v2.1/verify`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ id_token, client_id }),
      });
    const ok = await verify(token, EMU_LOGIN_CHANNEL);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ sub: u.userId, aud: EMU_LOGIN_CHANNEL });
    const bad = await verify(token, "42");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "invalid_request" });
  });
});

describe("OpenAPI document", () => {
  it("the vendored messaging-api.yml is LINE's, byte for byte, when ../shared is present", () => {
    const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
    const shared = `${repoRoot}../shared/line-openapi/messaging-api.yml`;
    const vendored = readFileSync(vendoredSpecPath(), "utf8");
    expect(vendored).toContain("operationId: pushMessagesByPhone");
    expect(existsSync(new URL("../../../server/src/sandbox/openapi/LICENSE", import.meta.url))).toBe(true);
    if (existsSync(shared)) expect(vendored).toBe(readFileSync(shared, "utf8"));
  });

  it("answers 400 to a retry key on an API that does not support it (followers)", async () => {
    const res = await fetch(`${emu.url}/v2/bot/followers/ids`, { headers: { authorization: `Bearer ${EMU_TOKEN}`, "x-line-retry-key": randomUUID() } });
    expect(res.status).toBe(400);
  });

  it("every response carries x-line-request-id, including 401 and 404", async () => {
    const a = await fetch(`${emu.url}/v2/bot/followers/ids`);
    expect(a.status).toBe(401);
    expect(a.headers.get("x-line-request-id")).toBeTruthy();
    const b = await fetch(`${emu.url}/v2/bot/nothing-here`, { headers: { authorization: `Bearer ${EMU_TOKEN}` } });
    expect(b.status).toBe(404);
    expect(b.headers.get("x-line-request-id")).toBeTruthy();
  });
});

describe("end to end: emulator webhooks into our app", () => {
  let t: Awaited<ReturnType<typeof buildTestApp>>;
  let server: ReturnType<typeof createServer>;
  let webhookUrl: string;
  beforeAll(async () => {
    t = await buildTestApp();
    server = createServer(t.app);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await t.close();
  });

  it("a simulated follow makes the user a friend through the product API; an unfollow undoes it", async () => {
    const e = await startEmulator({ channelSecret: TEST_SECRET, clock: t.clock, webhookUrl });
    try {
      const u = e.createUser({ phone: randomTwPhone() });
      const before = await request(t.app).get(`/api/v1/line-users/${u.userId}`).set(auth());
      expect(before.status).toBe(404);

      await e.follow(u.userId);
      expect(e.webhookLog().at(-1)!.status).toBe(200);
      await t.app.services.processor.kick();
      const after = await request(t.app).get(`/api/v1/line-users/${u.userId}`).set(auth());
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ userId: u.userId, friend: true });

      t.clock.advance(1000);
      await e.unfollow(u.userId);
      await t.app.services.processor.kick();
      const gone = await request(t.app).get(`/api/v1/line-users/${u.userId}`).set(auth());
      expect(gone.body).toMatchObject({ userId: u.userId, friend: false });
    } finally {
      await e.close();
    }
  });

  it("a webhook signed with another secret is refused by our app (401) and logged as such", async () => {
    const e = await startEmulator({ channelSecret: "not-the-app-secret", webhookUrl });
    try {
      const u = e.createUser();
      await e.follow(u.userId);
      expect(e.webhookLog()[0]!.status).toBe(401);
      await t.app.services.processor.kick();
      const res = await request(t.app).get(`/api/v1/line-users/${u.userId}`).set(auth());
      expect(res.status).toBe(404);
    } finally {
      await e.close();
    }
  });
});
