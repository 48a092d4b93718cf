import { randomUUID } from "node:crypto";
import { createLogger } from "@oa-notify/server";
import { WebhookDeliveryWorker } from "@oa-notify/server/outbox/delivery.ts";
import { syncWebhookEndpoints } from "@oa-notify/server/outbox/endpoints.ts";
import { Validator } from "@seriousme/openapi-schema-validator";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, sign, TEST_API_KEY, type TestContext } from "../helpers/app.ts";
import { followEvent, lineUserId, webhookBody } from "../helpers/events.ts";
import { startReceiver } from "../helpers/receiver.ts";
import { randomPhone } from "../notify/harness.ts";
import { type ContractChecker, contractChecker, mountedRoutes } from "./openapi-check.ts";

/**
 * The published contract against the real app: every operation of GET /api/v1/openapi.json is called for real and
 * every response (status and body) is checked against the document; and every /api/v1 route express has mounted must
 * be in the document (so an endpoint added later without a declaration fails here).
 */
const READONLY_KEY = "read-only-key-0123456789";
let t: TestContext;
let doc: any;
let c: ContractChecker;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver(() => 204);
  t = await buildTestApp({
    env: { API_KEYS_READONLY: READONLY_KEY, STATUS_WEBHOOK_URL: receiver.url, STATUS_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
  });
  await syncWebhookEndpoints(t.db, t.config);
  const res = await request(t.app).get("/api/v1/openapi.json");
  expect(res.status).toBe(200);
  doc = res.body;
  c = contractChecker(doc);
  expect(c.check("GET", "/api/v1/openapi.json", res.status, res.body, res.headers["content-type"])).toEqual([]);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

/** One real request, its response checked against the document. */
async function call(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; key?: string | null } = {}) {
  let req = (request(t.app) as any)[method.toLowerCase()](path) as request.Test;
  if (opts.key !== null) req = req.set("authorization", `Bearer ${opts.key ?? TEST_API_KEY}`);
  for (const [k, v] of Object.entries(opts.headers ?? {})) req = req.set(k, v);
  const res = opts.body === undefined ? await req : await req.send(opts.body as object);
  expect(
    c.check(method, path, res.status, res.body, String(res.headers["content-type"] ?? "")),
    `${method} ${path} → ${res.status} ${res.text.slice(0, 300)}`,
  ).toEqual([]);
  return res;
}

describe("GET /api/v1/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document (the specification's own JSON Schema)", async () => {
    const v = new Validator();
    const r = await v.validate(structuredClone(doc));
    expect([v.version, r.valid, r.errors]).toEqual(["3.1", true, undefined]);
    // A broken one is caught: the check can fail.
    const broken = await new Validator().validate({ ...structuredClone(doc), paths: { "/x": { get: { responses: { 200: {} } } } } });
    expect(broken.valid).toBe(false);
  });

  it("is OpenAPI 3.1 with every operation's parameters, Idempotency-Key, error body and LINE's message schema", () => {
    expect(doc.openapi).toBe("3.1.0");
    const create = doc.paths["/api/v1/notifications"].post;
    expect(create.parameters).toContainEqual(expect.objectContaining({ name: "Idempotency-Key", in: "header", required: false }));
    for (const status of ["202", "200", "400", "401", "403", "409", "413", "415", "422", "500"]) expect(Object.keys(create.responses)).toContain(status);
    expect(create.responses["422"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    const items = doc.components.schemas.CreateNotificationRequest.properties.messages.items;
    expect(items.discriminator.mapping.sticker).toBe("#/components/schemas/LineStickerMessage");
    expect(items.oneOf).toContainEqual({ $ref: "#/components/schemas/LineTextMessage" });
    // LINE's own schema, with its discriminator and subtypes (from LINE's OpenAPI document).
    expect(doc.components.schemas.LineMessage.discriminator.mapping.sticker).toBe("#/components/schemas/LineStickerMessage");
    expect(doc.components.schemas.LineStickerMessage.required).toEqual(["packageId", "stickerId"]);
    expect(doc.components.schemas.LineStickerMessage.allOf[0]).toEqual({ $ref: "#/components/schemas/LineMessage" });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(["code", "message"]);
    // Reads carry no 403, writes do; the document itself needs no key.
    expect(doc.paths["/api/v1/stats"].get.responses["403"]).toBeUndefined();
    expect(doc.paths["/api/v1/openapi.json"].get.security).toEqual([]);
    expect(doc.paths["/api/v1/members/{memberId}"].put.parameters).toContainEqual(expect.objectContaining({ name: "memberId", in: "path", required: true }));
  });

  it("every mounted /api/v1 route is in the document, and every documented path is mounted", () => {
    const routes = mountedRoutes((t.app.express as any).router.stack)
      .filter(([, p]) => p.startsWith("/api/v1/"))
      .map(([m, p]) => `${m.toUpperCase()} ${p.replace(/:(\w+)/g, "{$1}")}`);
    expect(routes.length).toBeGreaterThanOrEqual(12);
    const documented = Object.entries<any>(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((d) => !routes.includes(d))).toEqual([]);
  });
});

describe("every operation, real responses against the document", () => {
  it("members, records, notifications, batch, cancel, stats: successes and errors conform", async () => {
    const memberId = `m-${randomUUID().slice(0, 8)}`;
    const phone = randomPhone();
    expect((await call("PUT", `/api/v1/members/${memberId}`, { body: { phone: phone.local, name: "王小明" } })).status).toBe(201);
    expect((await call("PUT", `/api/v1/members/${memberId}`, { body: { phone: phone.local } })).status).toBe(200);
    expect((await call("PUT", `/api/v1/members/${memberId}`, { body: { phone: "12" } })).status).toBe(400);
    expect((await call("GET", `/api/v1/members/${memberId}`)).status).toBe(200);
    expect((await call("GET", "/api/v1/members/nobody-here")).status).toBe(404);
    expect((await call("GET", `/api/v1/members/${memberId}`, { key: null })).status).toBe(401);
    expect((await call("POST", `/api/v1/members/${memberId}/binding-links`)).status).toBe(201);
    expect((await call("POST", "/api/v1/members/nobody-here/binding-links")).status).toBe(404);

    // A LINE user the webhook saw (a signed follow event), then one it did not.
    const userId = lineUserId();
    const hook = webhookBody([followEvent(userId)]);
    expect((await request(t.app).post("/webhook").set("content-type", "application/json").set("x-line-signature", sign(hook)).send(hook)).status).toBe(200);
    await t.app.services.processor.kick();
    await t.app.services.processor.drain();
    expect((await call("GET", `/api/v1/line-users/${userId}`)).body.friend).toBe(true);
    expect((await call("GET", `/api/v1/line-users/${lineUserId()}`)).status).toBe(404);

    const order = { memberId, status: "shipped", items: [{ name: "茶葉禮盒", quantity: 2, unitPriceTwd: 450 }], amountTwd: 900 };
    expect((await call("PUT", "/api/v1/orders/o-1", { body: order })).status).toBe(201);
    expect((await call("PUT", "/api/v1/orders/o-1", { body: { ...order, trackingUrl: "https://t.example/1" } })).status).toBe(200);
    expect((await call("PUT", "/api/v1/orders/o-2", { body: { ...order, memberId: "nobody-here" } })).status).toBe(422);
    const bill = { memberId, status: "unpaid", amountTwd: 1234.5, period: "2026-11", dueAt: "2026-12-10T00:00:00+08:00" };
    expect((await call("PUT", "/api/v1/bills/b-1", { body: bill })).status).toBe(201);
    expect((await call("PUT", "/api/v1/bills/b-1", { body: bill })).status).toBe(200);

    const notice = { memberId, scenario: "shipping", urgency: "day", text: "您的訂單已出貨 Your order has shipped" };
    const key = { "Idempotency-Key": `k-${randomUUID()}` };
    const first = await call("POST", "/api/v1/notifications", { body: notice, headers: key });
    expect(first.status).toBe(202);
    expect((await call("POST", "/api/v1/notifications", { body: notice, headers: key })).status).toBe(200);
    expect((await call("POST", "/api/v1/notifications", { body: { ...notice, text: "other" }, headers: key })).status).toBe(409);
    expect((await call("POST", "/api/v1/notifications", { body: { ...notice, urgency: "soon" } })).status).toBe(400);
    expect((await call("POST", "/api/v1/notifications", { body: { ...notice, memberId: "nobody-here" } })).status).toBe(422);
    const sticker = await call("POST", "/api/v1/notifications", {
      body: { memberId, scenario: "shipping", urgency: "day", messages: [{ type: "sticker", stickerId: "1" }] },
    });
    expect([sticker.status, sticker.body.error.details]).toEqual([422, [{ field: "body.messages.0.packageId", message: "Must not be empty" }]]);
    expect((await call("POST", "/api/v1/notifications", { body: notice, key: READONLY_KEY })).status).toBe(403);
    expect((await call("POST", "/api/v1/notifications", { body: "x".repeat(2_000_000), headers: { "content-type": "application/json" } })).status).toBe(413);
    expect(
      (await call("POST", "/api/v1/notifications", { body: "{}", headers: { "content-type": "application/json", "content-encoding": "zstd9" } })).status,
    ).toBe(415);

    const batch = await call("POST", "/api/v1/notifications/batch", {
      body: { notifications: [notice, { ...notice, idempotencyKey: "b-1" }, { ...notice, urgency: "soon" }] },
    });
    expect([batch.status, batch.body.accepted, batch.body.rejected]).toEqual([202, 2, 1]);

    const id = first.body.id as string;
    expect((await call("GET", `/api/v1/notifications/${id}`)).body.id).toBe(id);
    expect((await call("GET", `/api/v1/notifications/${randomUUID()}`)).status).toBe(404);
    expect((await call("GET", "/api/v1/notifications/not-a-uuid")).status).toBe(400);
    expect((await call("GET", `/api/v1/notifications?memberId=${memberId}&limit=10`)).body.notifications).toHaveLength(3);
    expect((await call("POST", `/api/v1/notifications/${id}/cancel`)).body.cancelled).toBe("notification");
    expect((await call("POST", `/api/v1/notifications/${id}/cancel`)).body.alreadyCancelled).toBe(true);
    expect((await call("POST", `/api/v1/notifications/${randomUUID()}/cancel`)).status).toBe(404);
    expect((await call("GET", `/api/v1/batches/${batch.body.batchId}`)).body.total).toBe(2);
    expect((await call("GET", `/api/v1/batches/${randomUUID()}`)).status).toBe(404);
    const csv = await call("GET", `/api/v1/notifications/export?memberId=${memberId}`);
    expect([csv.status, csv.text.split("\r\n").filter(Boolean).length]).toEqual([200, 4]);
    expect((await call("GET", "/api/v1/notifications/export?format=xlsx")).status).toBe(400);

    // Status callbacks: the outbox rows of these notices, delivered to the receiver, listed, one replayed.
    const worker = new WebhookDeliveryWorker({ db: t.db, clock: t.clock, logger: createLogger("silent"), config: t.config });
    expect(await worker.runUntilIdle()).toBeGreaterThan(0);
    const delivered = await call("GET", "/api/v1/webhook-deliveries?status=delivered&limit=2");
    expect([delivered.body.deliveries.length, delivered.body.nextCursor === null]).toEqual([2, false]);
    expect((await call("POST", `/api/v1/webhook-deliveries/${delivered.body.deliveries[0].id}/replay`)).status).toBe(202);
    expect((await call("POST", `/api/v1/webhook-deliveries/${delivered.body.deliveries[0].id}/replay`)).status).toBe(409);
    expect((await call("POST", "/api/v1/webhook-deliveries/999999999/replay")).status).toBe(404);
    expect((await call("POST", `/api/v1/webhook-deliveries/${delivered.body.deliveries[1].id}/replay`, { key: READONLY_KEY })).status).toBe(403);

    const stats = await call("GET", "/api/v1/stats?from=2026-11-01&to=2026-12-01");
    expect([stats.status, stats.body.funnel.accepted, stats.body.funnel.cancelled]).toEqual([200, 3, 1]);
    expect((await call("GET", "/api/v1/stats", { key: READONLY_KEY })).status).toBe(200);
    expect((await call("GET", "/api/v1/stats?from=tomorrow")).status).toBe(400);

    // Consents (customer service, method admin), the scenario registry, the dashboard's figures, erasure.
    expect((await call("POST", `/api/v1/members/${memberId}/consents`, { body: { action: "withdraw", reason: "by phone" } })).body.line.state).toBe(
      "withdrawn",
    );
    expect((await call("POST", `/api/v1/members/${memberId}/consents`, { body: { action: "maybe" } })).status).toBe(400);
    expect((await call("GET", `/api/v1/members/${memberId}/consents`)).body.items.length).toBeGreaterThanOrEqual(1);
    expect((await call("GET", "/api/v1/members/nobody-here/consents")).status).toBe(404);
    expect((await call("GET", "/api/v1/scenarios")).body.scenarios).toHaveLength(18);
    expect((await call("GET", "/api/v1/scenarios/billing")).body.pnpApproved).toBe(true);
    expect((await call("GET", "/api/v1/scenarios/no_such")).status).toBe(404);
    expect((await call("PUT", "/api/v1/scenarios/refund", { body: { pnpApproved: true, title: "退款通知 Refund" } })).status).toBe(201);
    expect((await call("PUT", "/api/v1/scenarios/refund", { body: { pnpApproved: false } })).status).toBe(200);
    expect((await call("PUT", "/api/v1/scenarios/Refund!", { body: { pnpApproved: false } })).status).toBe(400);
    expect((await call("DELETE", "/api/v1/scenarios/refund")).status).toBe(204);
    expect((await call("DELETE", "/api/v1/scenarios/refund")).status).toBe(404);
    expect((await call("GET", "/api/v1/stats/series?from=2026-11-25&to=2026-12-02&interval=day")).body.points).toHaveLength(7);
    expect((await call("GET", "/api/v1/stats/statement?month=2026-11")).body.month).toBe("2026-11");
    expect((await call("GET", "/api/v1/stats/failures")).status).toBe(200);
    expect((await call("GET", "/api/v1/stats/batches?from=2026-11-01")).status).toBe(200);
    expect((await call("GET", "/api/v1/stats/audience?from=2026-11-25&to=2026-12-02")).body.days).toHaveLength(7);
    expect((await call("DELETE", `/api/v1/members/${memberId}`)).status).toBe(204);
    expect((await call("GET", `/api/v1/members/${memberId}`)).status).toBe(404);

    // Every operation in the document was called and answered at least one success.
    const operations = Object.values<any>(doc.paths).flatMap((item) => Object.values<any>(item).map((op) => op.operationId as string));
    const unsuccessful = operations.filter((o) => ![...(c.seen.get(o) ?? [])].some((s) => s >= 200 && s < 300));
    expect(unsuccessful).toEqual([]);
  });
});

describe("/api/docs", () => {
  it("renders every operation and schema from the document as HTML with a strict CSP and no script", async () => {
    const res = await request(t.app).get("/api/docs");
    expect([res.status, res.headers["content-type"]]).toEqual([200, "text/html; charset=utf-8"]);
    const csp = res.headers["content-security-policy"] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("script-src");
    expect(csp).not.toContain("unsafe");
    expect(res.text).not.toMatch(/<script|\sstyle=|<style|\son[a-z]+=/i);
    expect(res.text).toContain('<link rel="stylesheet" href="/api/docs/docs.css">');
    for (const item of Object.values<any>(doc.paths)) for (const op of Object.values<any>(item)) expect(res.text).toContain(`id="op-${op.operationId}"`);
    for (const name of Object.keys(doc.components.schemas)) expect(res.text).toContain(`id="schema-${name}"`);
    expect(res.text).toContain('<a href="#schema-LineStickerMessage">LineStickerMessage</a>');
    const css = await request(t.app).get("/api/docs/docs.css");
    expect([css.status, css.headers["content-type"]]).toEqual([200, "text/css; charset=utf-8"]);
  });
});
