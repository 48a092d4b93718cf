import { sql } from "@oa-notify/db";
import { signViewToken } from "@oa-notify/server/lib/view-token.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, sign } from "../helpers/app.ts";
import { followEvent, webhookBody } from "../helpers/events.ts";
import {
  bearer,
  bindByLink,
  buildLiffTestApp,
  createMember,
  type LiffTestContext,
  lineUser,
  notificationWithViewToken,
  putBill,
  putOrder,
  rid,
} from "./helpers.ts";

let t: LiffTestContext;
beforeAll(async () => {
  t = await buildLiffTestApp();
});
afterAll(async () => t.close());

const get = async (sub: string, path: string) =>
  request(t.app)
    .get(path)
    .set(bearer(await t.token(sub)));
const seenAt = async (nid: string) => (await t.db.query<{ seen_at: Date | null }>(sql`select seen_at from notifications where id = ${nid}`))[0]!.seen_at;

describe("backend upserts", () => {
  it("PUT /api/v1/bills/:id creates then updates, and validates", async () => {
    const { memberId } = await createMember(t);
    const billId = rid("b");
    const body = { memberId, status: "unpaid", amountTwd: 1280.5, period: "2026-11", dueAt: "2026-12-05T15:59:59Z", paymentUrl: "https://pay.example.com/x" };
    expect((await request(t.app).put(`/api/v1/bills/${billId}`).set(auth()).send(body)).status).toBe(201);
    expect(
      (
        await request(t.app)
          .put(`/api/v1/bills/${billId}`)
          .set(auth())
          .send({ ...body, status: "paid" })
      ).status,
    ).toBe(200);
    const row = await t.db.query<{ status: string; amount_twd: string }>(sql`select status, amount_twd from bills where bill_id = ${billId}`);
    expect(row[0]!.status).toBe("paid");
    expect(Number(row[0]!.amount_twd)).toBe(1280.5);

    for (const bad of [
      { ...body, amountTwd: -1 },
      { ...body, amountTwd: 1.234 },
      { ...body, status: "lost" },
      { ...body, paymentUrl: "javascript:alert(1)" },
      { ...body, dueAt: "tomorrow" },
      { ...body, extra: 1 },
    ]) {
      const res = await request(t.app)
        .put(`/api/v1/bills/${rid("b")}`)
        .set(auth())
        .send(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
    }
    expect(
      (
        await request(t.app)
          .put(`/api/v1/bills/${rid("b")}`)
          .set(auth())
          .send({ ...body, memberId: rid("ghost") })
      ).status,
    ).toBe(422);
    expect(
      (
        await request(t.app)
          .put(`/api/v1/bills/${rid("b")}`)
          .send(body)
      ).status,
    ).toBe(401);
  });

  it("PUT /api/v1/orders/:id creates and validates items", async () => {
    const { memberId } = await createMember(t);
    const orderId = rid("o");
    const body = {
      memberId,
      status: "shipped",
      items: [{ name: "保溫瓶", quantity: 2, unitPriceTwd: 450 }],
      amountTwd: 900,
      trackingUrl: "https://t.example.com/1",
    };
    expect((await request(t.app).put(`/api/v1/orders/${orderId}`).set(auth()).send(body)).status).toBe(201);
    expect(
      (
        await request(t.app)
          .put(`/api/v1/orders/${rid("o")}`)
          .set(auth())
          .send({ ...body, items: [] })
      ).status,
    ).toBe(400);
    expect(
      (
        await request(t.app)
          .put(`/api/v1/orders/${rid("o")}`)
          .set(auth())
          .send({ ...body, items: [{ name: "x", quantity: 0, unitPriceTwd: 1 }] })
      ).status,
    ).toBe(400);
  });
});

describe("GET /liff-api/bills/:id and /orders/:id", () => {
  it("shows a bill to its bound owner", async () => {
    const { memberId } = await createMember(t);
    const sub = lineUser();
    await bindByLink(t, memberId, sub);
    const billId = rid("b");
    await putBill(t, billId, memberId);
    const res = await get(sub, `/liff-api/bills/${billId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      billId,
      amountTwd: 1280,
      status: "unpaid",
      dueAt: "2026-12-05T15:59:59.000Z",
      paymentUrl: "https://pay.example.com/b/1",
      viewer: { access: "owner", bound: true },
    });
  });

  it("IDOR: user B cannot read user A's bill or order (404, same as missing)", async () => {
    const a = await createMember(t);
    const b = await createMember(t);
    const subA = lineUser();
    const subB = lineUser();
    await bindByLink(t, a.memberId, subA);
    await bindByLink(t, b.memberId, subB);
    const billId = rid("b");
    const orderId = rid("o");
    await putBill(t, billId, a.memberId);
    await putOrder(t, orderId, a.memberId);
    expect((await get(subA, `/liff-api/orders/${orderId}`)).status).toBe(200);
    const stolen = await get(subB, `/liff-api/bills/${billId}`);
    const missing = await get(subB, `/liff-api/bills/${rid("nope")}`);
    expect(stolen.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(stolen.body).toEqual({ error: { code: "not_found", message: "bill not found" } });
    expect(missing.body).toEqual(stolen.body);
    expect((await get(subB, `/liff-api/orders/${orderId}`)).status).toBe(404);
    // An unbound user too.
    expect((await get(lineUser(), `/liff-api/bills/${billId}`)).status).toBe(404);
  });

  it("a view token for that very notice opens the bill for an unbound recipient and marks the notice seen", async () => {
    const { memberId } = await createMember(t);
    const billId = rid("b");
    await putBill(t, billId, memberId);
    const { nid, viewToken } = await notificationWithViewToken(t, { type: "bill", id: billId }, memberId);
    expect(await seenAt(nid)).toBeNull();
    const res = await get(lineUser(), `/liff-api/bills/${billId}?t=${viewToken}`);
    expect(res.status).toBe(200);
    expect(res.body.viewer).toEqual({ access: "view_token", bound: false });
    expect(await seenAt(nid)).not.toBeNull();
    expect(t.logs.text).toContain(`/liff-api/bills/${billId}?t=[redacted]`);
    expect(t.logs.text).not.toContain(viewToken.split(".")[2]!);
    const events = await t.db.query<{ state: string }>(sql`select state from notification_events where notification_id = ${nid}`);
    expect(events.map((e) => e.state)).toEqual(["seen"]);
  });

  it("a valid view token for another bill (or another type) does not open this one", async () => {
    const a = await createMember(t);
    const victimBill = rid("b");
    const myBill = rid("b");
    await putBill(t, victimBill, a.memberId);
    await putBill(t, myBill, a.memberId);
    const { viewToken } = await notificationWithViewToken(t, { type: "bill", id: myBill }, a.memberId);
    const attacker = lineUser();
    expect((await get(attacker, `/liff-api/bills/${myBill}?t=${viewToken}`)).status).toBe(200);
    expect((await get(attacker, `/liff-api/bills/${victimBill}?t=${viewToken}`)).status).toBe(404);
    // Same id used as an order id.
    await putOrder(t, myBill, a.memberId);
    expect((await get(attacker, `/liff-api/orders/${myBill}?t=${viewToken}`)).status).toBe(404);
  });

  it("a token claiming a bill its notice does not link to, a forged token, an expired one → 404", async () => {
    const { memberId } = await createMember(t);
    const other = await createMember(t);
    const billId = rid("b");
    await putBill(t, billId, memberId);
    // Genuine signature, but the notification's next step is a different bill.
    const { nid } = await notificationWithViewToken(t, { type: "bill", id: rid("b") }, memberId);
    const mismatched = await signViewToken(t.config.appSecret, { nid, type: "bill", id: billId }, t.clock.now());
    expect((await get(lineUser(), `/liff-api/bills/${billId}?t=${mismatched}`)).status).toBe(404);
    // The notice was for another member than the bill's owner.
    const foreign = await notificationWithViewToken(t, { type: "bill", id: billId }, other.memberId);
    expect((await get(lineUser(), `/liff-api/bills/${billId}?t=${foreign.viewToken}`)).status).toBe(404);
    const forged = await signViewToken("another-secret-0123456789abcdefghijkl", { nid, type: "bill", id: billId }, t.clock.now());
    expect((await get(lineUser(), `/liff-api/bills/${billId}?t=${forged}`)).status).toBe(404);
    const good = await notificationWithViewToken(t, { type: "bill", id: billId }, memberId);
    t.clock.advance(31 * 24 * 3600_000);
    expect((await get(lineUser(), `/liff-api/bills/${billId}?t=${good.viewToken}`)).status).toBe(404);
    expect(await seenAt(good.nid)).toBeNull();
  });

  it("the owner opening with the notice's token also marks it seen", async () => {
    const { memberId } = await createMember(t);
    const sub = lineUser();
    await bindByLink(t, memberId, sub);
    const orderId = rid("o");
    await putOrder(t, orderId, memberId);
    const { nid, viewToken } = await notificationWithViewToken(t, { type: "order", id: orderId }, memberId);
    const res = await get(sub, `/liff-api/orders/${orderId}?t=${viewToken}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      orderId,
      amountTwd: 900,
      items: [{ name: "保溫瓶", quantity: 2, unitPriceTwd: 450 }],
      viewer: { access: "owner", bound: true },
    });
    expect(await seenAt(nid)).not.toBeNull();
  });
});

describe("friend prompts", () => {
  it("records a prompt and the follow webhook marks it converted", async () => {
    const { memberId } = await createMember(t);
    const billId = rid("b");
    await putBill(t, billId, memberId);
    const { nid, viewToken } = await notificationWithViewToken(t, { type: "bill", id: billId }, memberId);
    const sub = lineUser();
    const res = await request(t.app)
      .post("/liff-api/friend-prompts")
      .set(bearer(await t.token(sub)))
      .send({ viewToken, page: "bill" });
    expect(res.status).toBe(201);
    const rows = await t.db.query<{ notification_id: string; converted_at: Date | null }>(
      sql`select notification_id, converted_at from friend_prompts where line_user_id = ${sub}`,
    );
    expect(rows).toEqual([{ notification_id: nid, converted_at: null }]);
    t.clock.advance(60_000);
    const body = webhookBody([followEvent(sub, { timestamp: t.clock.now().getTime() + 10_000 })]);
    expect((await request(t.app).post("/webhook").set("content-type", "application/json").set("x-line-signature", sign(body)).send(body)).status).toBe(200);
    await t.app.services.processor.kick();
    const after = await t.db.query<{ converted_at: Date | null }>(sql`select converted_at from friend_prompts where line_user_id = ${sub}`);
    expect(after[0]!.converted_at).not.toBeNull();
    expect((await request(t.app).post("/liff-api/friend-prompts").send({})).status).toBe(401);
  });
});
