import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestContext } from "./helpers/app.ts";

// The surfaces a phone reaches without an API key are limited per client IP; the backend API is not.
let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp({ env: { PUBLIC_RATE_LIMIT_PER_MINUTE: "5" } });
});
afterAll(async () => t.close());

describe("public rate limit", () => {
  it("answers 429 with Retry-After and the error shape after the limit on /n and /liff-api", async () => {
    for (let i = 0; i < 3; i++) expect((await request(t.app).get("/n/AAAAAAAAAAAAAAAAAAAAAA")).status).toBe(404);
    for (let i = 0; i < 2; i++) expect((await request(t.app).get("/liff-api/me")).status).toBe(401);
    const limited = await request(t.app).get("/liff-api/me");
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect((await request(t.app).get("/n/AAAAAAAAAAAAAAAAAAAAAA")).status).toBe(429);
  });

  it("does not limit the webhook, health checks or the backend API", async () => {
    for (let i = 0; i < 8; i++) expect((await request(t.app).get("/healthz")).status).toBe(200);
    for (let i = 0; i < 8; i++) expect((await request(t.app).get("/api/v1/members/nobody")).status).toBe(401);
  });
});
