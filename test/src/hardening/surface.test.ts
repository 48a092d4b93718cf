// Finding 6 (docs/threat-model.md): the short link's code in any case is redacted from logs; ID tokens issued in
// the future are refused; the client IP comes from X-Forwarded-For only through TRUST_PROXY; /metrics is not public.

import { loadConfig } from "@oa-notify/server";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestContext } from "../helpers/app.ts";
import { bearer, buildLiffTestApp, type LiffTestContext, lineUser } from "../liff/helpers.ts";

describe("log redaction of the SMS short link", () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => t.close());

  it("/N/<code> routes like /n/<code>, and neither code reaches the log", async () => {
    const code = "Q2FuWW91UmVhZFRoaXNPaw";
    for (const path of [`/n/${code}`, `/N/${code}`, `/N/${code}/`, `/n/${code}?x=1`]) {
      const res = await request(t.app).get(path);
      expect(res.status).toBe(404);
    }
    expect(t.logs.text).toContain("/n/[redacted]");
    expect(t.logs.text).not.toContain(code);
  });
});

describe("LIFF ID token issued in the future", () => {
  let t: LiffTestContext;
  beforeAll(async () => {
    t = await buildLiffTestApp();
  });
  afterAll(async () => t.close());

  it("is refused beyond the clock tolerance, accepted within it", async () => {
    const later = (s: number) => new Date(t.clock.now().getTime() + s * 1000);
    expect(
      (
        await request(t.app)
          .get("/liff-api/me")
          .set(bearer(await t.token(lineUser(), { now: later(20) })))
      ).status,
    ).toBe(200);
    const future = await request(t.app)
      .get("/liff-api/me")
      .set(bearer(await t.token(lineUser(), { now: later(3600) })));
    expect(future.status).toBe(401);
    expect(future.body.error.code).toBe("unauthorized");
  });
});

describe("TRUST_PROXY", () => {
  it("parses and refuses values", () => {
    const base = { SANDBOX: "1", NODE_ENV: "test" };
    expect(loadConfig(base).trustProxy).toBe("loopback");
    expect(loadConfig({ ...base, TRUST_PROXY: "false" }).trustProxy).toBe(false);
    expect(loadConfig({ ...base, TRUST_PROXY: "2" }).trustProxy).toBe(2);
    expect(loadConfig({ ...base, TRUST_PROXY: "10.0.0.0/8, loopback" }).trustProxy).toBe("10.0.0.0/8,loopback");
    expect(() => loadConfig({ ...base, TRUST_PROXY: "everyone" })).toThrow(/TRUST_PROXY/);
  });

  const limited = async (trustProxy: string) => {
    const t = await buildTestApp({ env: { PUBLIC_RATE_LIMIT_PER_MINUTE: "2", TRUST_PROXY: trustProxy } });
    try {
      const hit = (ip: string) => request(t.app).get("/n/AAAAAAAAAAAAAAAAAAAAAA").set("x-forwarded-for", ip);
      const a = [await hit("203.0.113.1"), await hit("203.0.113.1"), await hit("203.0.113.1")].map((r) => r.status);
      const b = (await hit("203.0.113.2")).status;
      return { a, b };
    } finally {
      await t.close();
    }
  };

  it("with the proxy trusted, each forwarded client has its own bucket", async () => {
    expect(await limited("1")).toEqual({ a: [404, 404, 429], b: 404 });
  });

  it("with no proxy trusted, X-Forwarded-For is ignored (one bucket: the peer's)", async () => {
    expect(await limited("false")).toEqual({ a: [404, 404, 429], b: 429 });
  });
});

describe("GET /metrics", () => {
  const production = {
    SANDBOX: "0",
    SMS_PROVIDER: "log",
    APP_SECRET: "a-production-app-secret-0123456789abcdef",
    LINE_LOGIN_CHANNEL_ID: "1657000001",
    LIFF_ID: "1657000001-x",
  };

  it("is a 404 outside sandbox mode without METRICS_TOKEN", async () => {
    const t = await buildTestApp({ env: production });
    try {
      expect((await request(t.app).get("/metrics")).status).toBe(404);
    } finally {
      await t.close();
    }
  });

  it("needs the bearer token when METRICS_TOKEN is set", async () => {
    const t = await buildTestApp({ env: { ...production, METRICS_TOKEN: "scrape-token-0123456789" } });
    try {
      expect((await request(t.app).get("/metrics")).status).toBe(401);
      expect((await request(t.app).get("/metrics").set("authorization", "Bearer wrong-token-0123456789")).status).toBe(401);
      const ok = await request(t.app).get("/metrics").set("authorization", "Bearer scrape-token-0123456789");
      expect(ok.status).toBe(200);
      expect(ok.text).toContain("http_requests_total");
      expect(t.logs.text).not.toContain("scrape-token-0123456789");
    } finally {
      await t.close();
    }
  });
});
