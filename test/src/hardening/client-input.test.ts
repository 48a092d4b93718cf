// Finding 5 (docs/threat-model.md): client mistakes that used to end in a 500 — text PostgreSQL cannot store, deep
// nesting, year 0000, a corrupt Content-Encoding, bad percent-encoding — are 4xx naming the problem, and store nothing.
import type { Server } from "node:http";
import { gzipSync } from "node:zlib";
import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, listen } from "../helpers/app.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { bearer, buildLiffTestApp, createMember, type LiffTestContext, lineUser, rid } from "../liff/helpers.ts";

let t: LiffTestContext;
let server: Server;
let memberId: string;
beforeAll(async () => {
  t = await buildLiffTestApp();
  server = await listen(t.app);
  memberId = (await createMember(t)).memberId;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await t.close();
});

/** Rows in every table a request could write to. */
async function stored(): Promise<number> {
  const [r] = await t.db.query<{ n: string }>(sql`select
    (select count(*) from notifications) + (select count(*) from notification_events) + (select count(*) from members)
    + (select count(*) from bills) + (select count(*) from orders) + (select count(*) from otp_challenges)
    + (select count(*) from friend_prompts) + (select count(*) from sms_outbox) as n`);
  return Number(r!.n);
}

/** `{"a":{"a":…"x"…}}` as JSON text (JSON.stringify itself overflows at this depth). */
const nested = (depth: number): string => `${'{"a":'.repeat(depth)}"x"${"}".repeat(depth)}`;
// JSON text with an escape that JavaScript keeps as-is in a string (supertest sends a string body verbatim).
const NUL = "\\u0000";
const LONE = "\\ud800";
const notice = (textJson: string) => `{"phone":"0912345678","scenario":"shipping","urgency":"day","text":"a${textJson}b"}`;

type Case = [name: string, send: () => Promise<{ status: number; body: any }>, field: string];
const cases: Case[] = [
  ["U+0000 in a notification's text", () => request(t.app).post("/api/v1/notifications").set(auth()).type("json").send(notice(NUL)), "body.text"],
  [
    "an unpaired surrogate in a notification's text",
    () => request(t.app).post("/api/v1/notifications").set(auth()).type("json").send(notice(LONE)),
    "body.text",
  ],
  [
    "U+0000 in a message text",
    () =>
      request(t.app)
        .post("/api/v1/notifications")
        .set(auth())
        .type("json")
        .send(`{"phone":"0912345678","scenario":"shipping","urgency":"day","messages":[{"type":"text","text":"x${NUL}"}]}`),
    "body.messages.0.text",
  ],
  [
    "U+0000 in an object key of a flex message",
    () =>
      request(t.app)
        .post("/api/v1/notifications")
        .set(auth())
        .type("json")
        .send(`{"phone":"0912345678","scenario":"shipping","urgency":"day","messages":[{"type":"flex","altText":"a","contents":{"k${NUL}":1}}]}`),
    "body.messages.0.contents",
  ],
  [
    "messages nested 10,000 deep",
    () =>
      request(t.app)
        .post("/api/v1/notifications")
        .set(auth())
        .type("json")
        .send(`{"phone":"0912345678","scenario":"shipping","urgency":"day","messages":[{"type":"flex","altText":"a","contents":${nested(10_000)}}]}`),
    "body.messages.0.contents",
  ],
  [
    "U+0000 in a member's name",
    () => request(t.app).put("/api/v1/members/m-nul").set(auth()).type("json").send(`{"phone":"0912345678","name":"a${NUL}b"}`),
    "body.name",
  ],
  [
    "an unpaired surrogate in a member's name",
    () => request(t.app).put("/api/v1/members/m-sur").set(auth()).type("json").send(`{"phone":"0912345678","name":"a${LONE}b"}`),
    "body.name",
  ],
  [
    "a bill's detail nested 10,000 deep",
    () =>
      request(t.app)
        .put(`/api/v1/bills/${rid("b")}`)
        .set(auth())
        .type("json")
        .send(`{"memberId":"${memberId}","status":"unpaid","amountTwd":1,"detail":${nested(10_000)}}`),
    "body.detail",
  ],
  [
    "a bill due in year 0000",
    () =>
      request(t.app)
        .put(`/api/v1/bills/${rid("b")}`)
        .set(auth())
        .send({ memberId, status: "unpaid", amountTwd: 1, dueAt: "0000-01-01T00:00:00Z" }),
    "body.dueAt",
  ],
  [
    "an order in year 0000 by offset",
    () =>
      request(t.app)
        .put(`/api/v1/orders/${rid("o")}`)
        .set(auth())
        .send({ memberId, status: "paid", items: [{ name: "x", quantity: 1, unitPriceTwd: 1 }], amountTwd: 1, orderedAt: "0001-01-01T00:00:00+01:00" }),
    "body.orderedAt",
  ],
  [
    "U+0000 in an order item's name",
    () =>
      request(t.app)
        .put(`/api/v1/orders/${rid("o")}`)
        .set(auth())
        .type("json")
        .send(`{"memberId":"${memberId}","status":"paid","items":[{"name":"x${NUL}","quantity":1,"unitPriceTwd":1}],"amountTwd":1}`),
    "body.items.0.name",
  ],
  ["stats from year 0000", () => request(t.app).get("/api/v1/stats?from=0000-01-01").set(auth()), "query.from"],
  ["U+0000 in a query string", () => request(t.app).get("/api/v1/notifications?memberId=a%00b").set(auth()), "query.memberId"],
  ["bad percent-encoding in a path", () => request(t.app).get("/api/v1/members/%ED%A0%80").set(auth()), ""],
  [
    "a corrupt gzip body on a JSON route",
    () =>
      rawRequest(server, {
        method: "PUT",
        path: "/api/v1/members/m-gz",
        headers: { ...auth(), "content-type": "application/json", "content-encoding": "gzip" },
        body: '{"phone":"0912345678"}',
      }),
    "",
  ],
  [
    "a truncated br body on a JSON route",
    () =>
      rawRequest(server, {
        method: "PUT",
        path: "/api/v1/members/m-br",
        headers: { ...auth(), "content-type": "application/json", "content-encoding": "br" },
        body: "xx",
      }),
    "",
  ],
  [
    "a truncated gzip body on a JSON route",
    () =>
      rawRequest(server, {
        method: "PUT",
        path: "/api/v1/members/m-gz2",
        headers: { ...auth(), "content-type": "application/json", "content-encoding": "gzip" },
        body: gzipSync('{"phone":"0912345678"}').subarray(0, 12),
      }),
    "",
  ],
  [
    "a corrupt gzip body on /liff-api",
    async () =>
      rawRequest(server, {
        path: "/liff-api/otp",
        headers: { ...bearer(await t.token(lineUser())), "content-type": "application/json", "content-encoding": "gzip" },
        body: '{"phone":"0912345678"}',
      }),
    "",
  ],
  [
    "U+0000 in a LIFF body",
    async () =>
      request(t.app)
        .post("/liff-api/otp")
        .set(bearer(await t.token(lineUser())))
        .type("json")
        .send(`{"phone":"09123${NUL}45678"}`),
    "body.phone",
  ],
  [
    "a LIFF body nested 5,000 deep",
    async () =>
      request(t.app)
        .post("/liff-api/friend-prompts")
        .set(bearer(await t.token(lineUser())))
        .type("json")
        .send(`{"page":"bill","extra":${nested(5_000)}}`),
    "body",
  ],
];

describe("client mistakes are 4xx, never 500, and store nothing", () => {
  for (const [name, send, field] of cases) {
    it(name, async () => {
      const before = await stored();
      const res = await send();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.error.code).toBe("string");
      if (field) expect(res.body.error.message).toContain(field);
      expect(await stored()).toBe(before);
      expect(t.logs.text).not.toContain('"msg":"unhandled error"');
    });
  }
});

describe("a batch with one item PostgreSQL could not store", () => {
  it("rejects that item with its field and accepts the others", async () => {
    const items = [
      `{"phone":"0912345601","scenario":"shipping","urgency":"day","text":"ok 1"}`,
      `{"phone":"0912345602","scenario":"shipping","urgency":"day","text":"bad${NUL}"}`,
      `{"phone":"0912345603","scenario":"shipping","urgency":"day","messages":[{"type":"flex","altText":"a","contents":${nested(10_000)}}]}`,
      `{"phone":"0912345604","scenario":"shipping","urgency":"day","text":"ok 2"}`,
    ];
    const res = await request(t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .type("json")
      .send(`{"notifications":[${items.join(",")}]}`);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(2);
    expect(res.body.results[1].error.message).toContain("notifications.1.text");
    expect(res.body.results[2].error.message).toContain("notifications.2.messages.0.contents");
    expect(res.body.results[0].id).toBeTruthy();
    expect(res.body.results[3].id).toBeTruthy();
  });
});
