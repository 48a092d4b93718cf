// Finding 2 (docs/threat-model.md): a retry with the same Idempotency-Key and body gets the notification it was
// given the first time, even when the recipient's state has changed since (an unfollow made the scenario unsendable).

import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, sign, type TestContext } from "../helpers/app.ts";
import { followEvent, lineUserId, unfollowEvent, webhookBody } from "../helpers/events.ts";

let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp();
  // Not a LINE-approved use case: in this account's registry, for friends (push) only.
  expect((await request(t.app).put("/api/v1/scenarios/promotion").set(auth()).send({ pnpApproved: false })).status).toBe(201);
});
afterAll(async () => t.close());

const hook = async (events: unknown[]) => {
  const body = webhookBody(events);
  const res = await request(t.app).post("/webhook").set("x-line-signature", sign(body)).set("content-type", "application/json").send(body);
  expect(res.status).toBe(200);
  await t.app.services.processor.kick();
  await t.app.services.processor.drain();
};

describe("Idempotency-Key after the recipient changed", () => {
  it("answers 200 with the same id after an unfollow, where a new request gets 422", async () => {
    const userId = lineUserId();
    const memberId = `m-${userId.slice(1, 9)}`;
    expect((await request(t.app).put(`/api/v1/members/${memberId}`).set(auth()).send({ phone: "0912555001" })).status).toBe(201);
    await t.db.query(sql`update members set line_user_id = ${userId}, bound_at = now() where member_id = ${memberId}`);
    await hook([followEvent(userId, { timestamp: Date.now() - 60_000 })]);

    // Promotional content (a sale): push to a friend only, never PNP or SMS.
    const body = { memberId, scenario: "promotion", urgency: "day", text: "週末特賣", promotional: true };
    const first = await request(t.app).post("/api/v1/notifications").set(auth()).set("Idempotency-Key", "K-promo-1").send(body);
    expect(first.status).toBe(202);

    await hook([unfollowEvent(userId)]);
    expect((await request(t.app).get(`/api/v1/line-users/${userId}`).set(auth())).body.friend).toBe(false);

    const retry = await request(t.app).post("/api/v1/notifications").set(auth()).set("Idempotency-Key", "K-promo-1").send(body);
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    expect(retry.body.duplicate).toBe(true);

    // The same body under a new key is a new request, judged on today's state.
    const fresh = await request(t.app).post("/api/v1/notifications").set(auth()).set("Idempotency-Key", "K-promo-2").send(body);
    expect(fresh.status).toBe(422);
    // And the old key with another body is still a conflict.
    const other = await request(t.app)
      .post("/api/v1/notifications")
      .set(auth())
      .set("Idempotency-Key", "K-promo-1")
      .send({ ...body, text: "另一則" });
    expect(other.status).toBe(409);
    expect(Number((await t.db.query<{ n: string }>(sql`select count(*) as n from notifications where member_id = ${memberId}`))[0]!.n)).toBe(1);
  });

  it("a retried batch item gets its id back after the same change", async () => {
    const userId = lineUserId();
    const memberId = `m-${userId.slice(1, 9)}`;
    expect((await request(t.app).put(`/api/v1/members/${memberId}`).set(auth()).send({ phone: "0912555002" })).status).toBe(201);
    await t.db.query(sql`update members set line_user_id = ${userId}, bound_at = now() where member_id = ${memberId}`);
    await hook([followEvent(userId, { timestamp: Date.now() - 60_000 })]);
    const items = [{ memberId, scenario: "promotion", urgency: "day", text: "會員日", idempotencyKey: "B-1" }];
    const first = await request(t.app).post("/api/v1/notifications/batch").set(auth()).send({ notifications: items });
    expect(first.status).toBe(202);
    await hook([unfollowEvent(userId)]);
    const retry = await request(t.app).post("/api/v1/notifications/batch").set(auth()).send({ notifications: items });
    expect(retry.status).toBe(202);
    expect(retry.body.results[0]).toMatchObject({ index: 0, id: first.body.results[0].id, duplicate: true });
  });
});
