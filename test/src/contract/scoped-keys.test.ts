import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, TEST_API_KEY, type TestContext, testConfig } from "../helpers/app.ts";
import { randomPhone } from "../notify/harness.ts";
import { mountedRoutes } from "./openapi-check.ts";

/**
 * API_KEYS_READONLY: one middleware keyed on the HTTP method. Every write route express has mounted under /api/v1
 * (enumerated, so routes added later are covered) answers a read-only key 403 `forbidden` and stores nothing; every
 * read route lets it through (its answer may be a 400 or 404 for the placeholder ids, never a 401 or 403).
 */
const READONLY = "readonly-key-abcdefghijkl";
const BOTH = "listed-twice-key-abcdefgh";
let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp({ env: { API_KEYS: `${TEST_API_KEY},${BOTH}`, API_KEYS_READONLY: ` ${READONLY} , ${BOTH}` } });
});
afterAll(async () => {
  await t?.close();
});

const routes = () =>
  mountedRoutes((t.app.express as any).router.stack)
    .filter(([, p]) => p.startsWith("/api/v1/"))
    .map(([m, p]) => [m.toUpperCase(), p.replace(/:(\w+)/g, "x-placeholder")] as const);
const counts = async () =>
  (
    await t.db.query<{ n: string | number }>(
      sql`select (select count(*) from notifications) + (select count(*) from members) + (select count(*) from orders) as n`,
    )
  )[0]!.n;

describe("read-only API keys", () => {
  it("config: API_KEYS_READONLY is a trimmed comma list, and its keys are secrets the logger removes", () => {
    const c = testConfig({ API_KEYS_READONLY: " a-key , b-key ,," });
    expect(c.apiKeysReadonly).toEqual(["a-key", "b-key"]);
    expect(testConfig().apiKeysReadonly).toEqual([]);
  });

  it("every mounted write route → 403 forbidden for a read-only key (and a key in both lists), nothing stored", async () => {
    const writes = routes().filter(([m]) => m !== "GET" && m !== "HEAD");
    expect(writes.map(([m]) => m).sort()).toEqual(expect.arrayContaining(["POST", "PUT"]));
    expect(writes.length).toBeGreaterThanOrEqual(7);
    const before = await counts();
    for (const key of [READONLY, BOTH])
      for (const [method, path] of writes) {
        const body = { memberId: "m", phone: randomPhone().local, scenario: "otp", urgency: "minutes", text: "1", notifications: [] };
        const res = await (request(t.app) as any)[method.toLowerCase()](path).set("authorization", `Bearer ${key}`).send(body);
        expect([method, path, res.status, res.body.error?.code]).toEqual([method, path, 403, "forbidden"]);
      }
    expect(await counts()).toBe(before);
    // The write key still writes.
    const ok = await request(t.app).put("/api/v1/members/scoped-1").set("authorization", `Bearer ${TEST_API_KEY}`).send({ phone: randomPhone().local });
    expect(ok.status).toBe(201);
  });

  it("every mounted read route lets a read-only key through (GET and HEAD)", async () => {
    const reads = routes().filter(([m]) => m === "GET");
    expect(reads.length).toBeGreaterThanOrEqual(5);
    for (const [, path] of reads)
      for (const method of ["get", "head"]) {
        const res = await (request(t.app) as any)[method](path).set("authorization", `Bearer ${READONLY}`);
        expect([method, path, [401, 403].includes(res.status)]).toEqual([method, path, false]);
      }
    const stats = await request(t.app).get("/api/v1/stats").set("authorization", `Bearer ${READONLY}`);
    expect(stats.status).toBe(200);
    const wrong = await request(t.app).get("/api/v1/stats").set("authorization", "Bearer readonly-key-abcdefghijkX");
    expect(wrong.status).toBe(401);
  });
});
