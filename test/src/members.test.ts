import { randomUUID } from "node:crypto";
import { sql } from "@oa-notify/db";
import { normalizePhone, phoneHash } from "@oa-notify/server/lib/phone.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, TEST_API_KEY, type TestContext } from "./helpers/app.ts";

let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const memberId = () => `m-${randomUUID()}`;
const count = async (id: string) => Number((await t.db.query<{ n: string }>(sql`select count(*) as n from members where member_id = ${id}`))[0]!.n);

describe("phone normalisation", () => {
  it.each([
    ["0912-345-678", "+886912345678"],
    ["0912345678", "+886912345678"],
    ["+886 912 345 678", "+886912345678"],
    ["886912345678", "+886912345678"],
    ["+886-912-345-678", "+886912345678"],
    ["(0912) 345 678", "+886912345678"],
    [" 0987 654 321 ", "+886987654321"],
    ["+81 90-1234-5678", "+819012345678"],
  ])("%s → %s", (input, e164) => {
    expect(normalizePhone(input)).toMatchObject({ ok: true, e164 });
  });

  it.each([
    ["02-2345-6789", "a Taipei landline"],
    ["12345", "too short"],
    ["0912-345-67", "one digit short"],
    ["09123456789", "one digit long"],
    ["+1 415 555 0100", "a US number"],
    ["phone", "letters"],
    ["0912345678; drop table", "injection"],
    ["", "empty"],
  ])("rejects %s (%s)", (input) => {
    expect(normalizePhone(input).ok).toBe(false);
  });

  it("hashes E.164 with its + as LINE documents (PNP phone-number hashing)", () => {
    expect(phoneHash("+818000001234")).toBe("d41e0ad70dddfeb68f149ad6fc61574b9c5780ab7bcb2fba5517771ffbb2409c");
  });
});

describe("members API", () => {
  it("creates (201) then updates (200) a member, stores E.164 and its hash", async () => {
    const id = memberId();
    const created = await request(t.app).put(`/api/v1/members/${id}`).set(auth()).send({ phone: "0912-345-678", name: "王小明" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ memberId: id, phone: "+886912345678", lineUserId: null, friend: false, boundAt: null });
    const updated = await request(t.app).put(`/api/v1/members/${id}`).set(auth()).send({ phone: "886987654321" });
    expect(updated.status).toBe(200);
    expect(updated.body.phone).toBe("+886987654321");
    const got = await request(t.app).get(`/api/v1/members/${id}`).set(auth());
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ memberId: id, phone: "+886987654321", name: "王小明", lineUserId: null, friend: false, boundAt: null });
    const rows = await t.db.query<{ phone_hash: string }>(sql`select phone_hash from members where member_id = ${id}`);
    expect(rows[0]!.phone_hash).toBe(phoneHash("+886987654321"));
  });

  it("answers 400 naming the field for a bad phone, and stores nothing", async () => {
    const id = memberId();
    const res = await request(t.app).put(`/api/v1/members/${id}`).set(auth()).send({ phone: "02-2345-6789" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.message).toContain("phone");
    expect(await count(id)).toBe(0);
  });

  it.each([
    [{}, "missing phone"],
    [{ phone: 912345678 }, "phone as a number"],
    [{ phone: "0912345678", extra: 1 }, "unknown field"],
    [{ phone: "0912345678", name: "x".repeat(101) }, "name too long"],
  ] as [Record<string, unknown>, string][])("answers 400 for %j (%s)", async (body) => {
    const id = memberId();
    const res = await request(t.app).put(`/api/v1/members/${id}`).set(auth()).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toHaveProperty("code");
    expect(res.body.error).toHaveProperty("message");
    expect(await count(id)).toBe(0);
  });

  it("answers 400 for an invalid member id and for malformed JSON", async () => {
    expect(
      (
        await request(t.app)
          .put(`/api/v1/members/${encodeURIComponent("bad id/with space")}`)
          .set(auth())
          .send({ phone: "0912345678" })
      ).status,
    ).toBe(400);
    const bad = await request(t.app).put(`/api/v1/members/${memberId()}`).set(auth()).set("content-type", "application/json").send("{bad json");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("bad_request");
  });

  it("answers 404 JSON for an unknown member and an unknown LINE user", async () => {
    const m = await request(t.app).get(`/api/v1/members/${memberId()}`).set(auth());
    expect(m.status).toBe(404);
    expect(m.body.error.code).toBe("not_found");
    const u = await request(t.app)
      .get(`/api/v1/line-users/U${"0".repeat(32)}`)
      .set(auth());
    expect(u.status).toBe(404);
    expect((await request(t.app).get(`/api/v1/line-users/not-a-user-id`).set(auth())).status).toBe(400);
  });

  it("answers 413 for a body over the limit, storing nothing", async () => {
    const id = memberId();
    const res = await request(t.app)
      .put(`/api/v1/members/${id}`)
      .set(auth())
      .send({ phone: "0912345678", name: "x".repeat(2_000_000) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
    expect(await count(id)).toBe(0);
  });

  it("never logs the raw phone number", async () => {
    const id = memberId();
    await request(t.app).put(`/api/v1/members/${id}`).set(auth()).send({ phone: "0955-111-222" });
    await new Promise((r) => setTimeout(r, 20));
    expect(t.logs.text).toContain(id);
    expect(t.logs.text).not.toMatch(/955111222|0955-111-222/);
  });
});

describe("API keys", () => {
  it("rejects a missing, wrong or malformed key with 401, and accepts every configured key", async () => {
    const id = memberId();
    expect((await request(t.app).get(`/api/v1/members/${id}`)).status).toBe(401);
    const wrong = await request(t.app).get(`/api/v1/members/${id}`).set(auth("wrong-key"));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("unauthorized");
    expect(
      (
        await request(t.app)
          .get(`/api/v1/members/${id}`)
          .set(auth(TEST_API_KEY.slice(0, -1)))
      ).status,
    ).toBe(401);
    expect((await request(t.app).get(`/api/v1/members/${id}`).set("Authorization", TEST_API_KEY)).status).toBe(401);
    expect((await request(t.app).put(`/api/v1/members/${id}`).set(auth("wrong-key")).send({ phone: "0912345678" })).status).toBe(401);
    expect(await count(id)).toBe(0);
    expect((await request(t.app).get(`/api/v1/members/${id}`).set(auth())).status).toBe(404);
    expect((await request(t.app).get(`/api/v1/members/${id}`).set(auth("second-key-abcdefghijkl"))).status).toBe(404);
  });

  it("never logs a key", async () => {
    await request(t.app).get(`/api/v1/members/${memberId()}`).set(auth());
    await request(t.app).get(`/api/v1/members/${memberId()}`).set(auth("wrong-key-zzz"));
    await new Promise((r) => setTimeout(r, 20));
    expect(t.logs.text).not.toContain(TEST_API_KEY);
    expect(t.logs.text).not.toContain("wrong-key-zzz");
  });
});

describe("operations", () => {
  it("serves healthz, readyz and Prometheus metrics", async () => {
    expect((await request(t.app).get("/healthz")).body).toEqual({ status: "ok" });
    const ready = await request(t.app).get("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");
    await request(t.app).get("/nope");
    const m = await request(t.app).get("/metrics");
    expect(m.status).toBe(200);
    expect(m.headers["content-type"]).toContain("text/plain");
    expect(m.text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(m.text).toMatch(/errors_total\{code="not_found"\} \d+/);
    expect(m.text).toContain("webhook_events_total");
  });

  it("answers 404 JSON for an unknown route and echoes a request id", async () => {
    const res = await request(t.app).get("/no/such/route").set("x-request-id", "req-abc-123");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
    expect(res.headers["x-request-id"]).toBe("req-abc-123");
    const fresh = await request(t.app).get("/healthz");
    expect(fresh.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("readyz answers 503 when the database is gone", async () => {
    const own = await buildTestApp();
    await own.db.close();
    const res = await request(own.app).get("/readyz");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("unavailable");
  });
});
