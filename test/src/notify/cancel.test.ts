import { randomUUID } from "node:crypto";
import { sql } from "@oa-notify/db";
import { deliveryTagFor } from "@oa-notify/server/notify/channels/index.ts";
import { markSeen } from "@oa-notify/server/notify/seen.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { HOUR, MIN, type NotifyHarness, notifyHarness, text } from "./harness.ts";

let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness();
});
afterAll(async () => h?.close());

const cancel = (id: string, key?: string) => request(h.t.app).post(`/api/v1/notifications/${id}/cancel`).set(auth(key)).send();
const states = (n: { timeline: { state: string }[] }) => n.timeline.map((e) => e.state);

/**
 * The worker's two halves, to put a cancel between a claim and the processing of the claimed row (the race the
 * cancel must win or lose cleanly). These are the worker's own methods, not stand-ins.
 */
type Claimed = { id: string; status: string };
const internals = () => h.worker as unknown as { claim(limit: number): Promise<Claimed[]>; process(row: Claimed): Promise<void> };
async function claimOne(id: string): Promise<Claimed> {
  const rows = await internals().claim(1000);
  const mine = rows.find((r) => r.id === id);
  // Anything else claimed is made due again at once, untouched.
  const others = rows.filter((r) => r.id !== id).map((r) => r.id);
  if (others.length)
    await h.t.db.query(
      sql`update notifications set due_at = ${h.t.clock.now().toISOString()}::timestamptz where id in (select value::uuid from json_array_elements_text(${JSON.stringify(others)}::json))`,
    );
  if (!mine) throw new Error(`row ${id} was not due`);
  return mine;
}

describe("POST /api/v1/notifications/:id/cancel", () => {
  it("before anything is sent: cancelled, and nothing ever goes out (push, PNP, SMS routes)", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const stranger = await h.member();
    const smsOnly = await h.member({ sim: false });
    const ids = [
      (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id,
      (await h.post({ memberId: stranger.memberId, scenario: "shipping", urgency: "hour", ...text() })).body.id,
      (await h.post({ memberId: smsOnly.memberId, scenario: "otp", urgency: "minutes", ...text("驗證碼 123456") })).body.id,
    ];
    for (const id of ids) {
      const res = await cancel(id);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, status: "cancelled", cancelled: "notification" });
      expect(states(res.body)).toEqual(["accepted", "cancelled"]);
      expect(res.body.timeline.at(-1).detail).toMatchObject({ reason: "cancelled by API", by: "api" });
      expect(res.body.smsDeadlineAt).toBeNull();
    }
    await h.run();
    h.t.clock.advance(25 * HOUR);
    await h.run();
    for (const id of ids) {
      const n = await h.get(id);
      expect(n.status).toBe("cancelled");
      expect(states(n)).toEqual(["accepted", "cancelled"]);
      expect(n.costTwd).toBe(0);
    }
    expect(h.emulator.accepted().filter((a) => a.to === friend.userId)).toHaveLength(0);
    expect(h.emulator.inbox(friend.userId!)).toHaveLength(0);
    expect(h.emulator.inbox(stranger.userId!)).toHaveLength(0);
    expect(h.emulator.requests().filter((r) => ids.some((id) => r.deliveryTag?.includes(id.replace(/-/g, ""))))).toHaveLength(0);
    for (const m of [friend, stranger, smsOnly]) expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
    // A repeat is answered as the first call was.
    const again = await cancel(ids[0]);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "cancelled", alreadyCancelled: true });
    expect(states(again.body)).toEqual(["accepted", "cancelled"]);
  });

  it("wins against a worker that already claimed the row: the worker re-checks and sends nothing", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const stranger = await h.member();
    const smsOnly = await h.member({ sim: false });
    const push = (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id;
    const pnp = (await h.post({ memberId: stranger.memberId, scenario: "shipping", urgency: "hour", ...text() })).body.id;
    const sms = (await h.post({ memberId: smsOnly.memberId, scenario: "otp", urgency: "minutes", ...text() })).body.id;
    for (const id of [push, pnp, sms]) {
      const row = await claimOne(id);
      expect(row.status).toBe("accepted");
      expect((await cancel(id)).body.status).toBe("cancelled");
      await internals().process(row);
      const n = await h.get(id);
      expect(n.status).toBe("cancelled");
      expect(states(n)).toEqual(["accepted", "cancelled"]);
    }
    h.t.clock.advance(HOUR);
    await h.run();
    expect(h.emulator.inbox(friend.userId!)).toHaveLength(0);
    expect(h.emulator.inbox(stranger.userId!)).toHaveLength(0);
    expect(h.emulator.smsInbox(smsOnly.e164)).toHaveLength(0);
  });

  it("cancels racing a running worker: each notice is either cancelled and never sent, or sent and the cancel says so", async () => {
    const members = await Promise.all(Array.from({ length: 30 }, () => h.member()));
    const ids: string[] = [];
    for (const m of members) ids.push((await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "days", ...text() })).body.id);
    const [answers] = await Promise.all([Promise.all(ids.map((id) => cancel(id))), h.run()]);
    await h.run();
    for (const [i, id] of ids.entries()) {
      const n = await h.get(id);
      const calls = h.emulator.requests().filter((r) => r.deliveryTag === deliveryTagFor(id)).length;
      if (answers[i]!.status === 200) {
        expect(n.status).toBe("cancelled");
        expect(calls).toBe(0);
      } else {
        expect(answers[i]!.status).toBe(409);
        expect(answers[i]!.body.error.message).toMatch(/LINE PNP message (is being sent|was sent)/);
        expect(n.status).toBe("sent");
        expect(calls).toBe(1);
      }
    }
  });

  it("a queued PNP waiting to be retried after a 5xx (nothing accepted by LINE) is cancelled, even mid-claim", async () => {
    const m = await h.member();
    h.emulator.setFaults({ serverError: { endpoint: "pnp", count: 1 } });
    const id = (await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "hour", ...text() })).body.id;
    await h.run();
    h.emulator.clearFaults();
    expect((await h.get(id)).status).toBe("queued");
    h.t.clock.advance(20 * MIN);
    const row = await claimOne(id);
    const res = await cancel(id);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("cancelled");
    await internals().process(row);
    h.t.clock.advance(HOUR);
    await h.run();
    expect((await h.get(id)).status).toBe("cancelled");
    expect(h.emulator.inbox(m.userId!)).toHaveLength(0);
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });

  it("LINE already sent, SMS fallback pending: the SMS is called off, the LINE state kept; none after the deadline", async () => {
    const m = await h.member({ sim: { blocked: true } }); // PNP accepted, never delivered
    const id = (
      await h.post({
        memberId: m.memberId,
        scenario: "billing",
        urgency: "hour",
        ...text(),
        nextStep: { type: "bill", id: await h.record("bill", m.memberId) },
      })
    ).body.id;
    await h.run();
    expect((await h.get(id)).status).toBe("sent");
    const res = await cancel(id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "sent", cancelled: "sms_fallback", smsDeadlineAt: null });
    expect(states(res.body)).toEqual(["accepted", "queued", "sent", "sms_cancelled"]);
    expect(res.body.timeline.at(-1).detail.reason).toBe("cancelled by API");
    h.t.clock.advance(16 * MIN);
    await h.run();
    expect((await h.get(id)).status).toBe("sent");
    h.t.clock.advance(24 * HOUR);
    await h.run();
    const n = await h.get(id);
    expect(n.status).toBe("undelivered"); // the LINE leg settles as it would have without an SMS
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
    expect((await cancel(id)).status).toBe(409); // undelivered: nothing left to call off
  });

  it("a page view before the cancel still settles the notice as delivered at once", async () => {
    const m = await h.member({ sim: { blocked: true } });
    const id = (
      await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", ...text(), nextStep: { type: "bill", id: await h.record("bill", m.memberId) } })
    ).body.id;
    await h.run();
    expect(await markSeen({ db: h.t.db.db, clock: h.t.clock, notificationId: id })).toBe(true);
    expect((await cancel(id)).body).toMatchObject({ status: "sent", cancelled: "sms_fallback" });
    await h.run();
    const n = await h.get(id);
    expect(n.status).toBe("delivered");
    expect(states(n)).toEqual(["accepted", "queued", "sent", "seen", "sms_cancelled", "delivered"]);
    h.t.clock.advance(5 * HOUR);
    await h.run();
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });

  it("SMS deadline passed and the worker holds the row: the cancel still stops the SMS (or loses cleanly)", async () => {
    const m = await h.member({ sim: { blocked: true } });
    const id = (await h.post({ memberId: m.memberId, scenario: "billing", urgency: "hour", ...text() })).body.id;
    await h.run();
    h.t.clock.advance(15 * MIN + 1000);
    const row = await claimOne(id);
    expect(row.status).toBe("sent");
    expect((await cancel(id)).body.cancelled).toBe("sms_fallback");
    await internals().process(row); // what the worker would do with its now stale copy: it must not send
    await h.run();
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
    const n = await h.get(id);
    expect(n.status).toBe("sent");
    expect(states(n)).not.toContain("fallback_sms");
  });

  it("a fallback SMS due after a LINE failure (422: nothing went out) is cancelled outright", async () => {
    const m = await h.member({ sim: false }); // no LINE account: PNP answers 422
    const id = (await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", ...text() })).body.id;
    const row = await claimOne(id);
    await internals().process(row); // decides PNP, gets the 422, schedules the SMS now
    expect((await h.get(id)).status).toBe("fallback_sms");
    const res = await cancel(id);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("cancelled");
    expect(states(res.body).slice(-3)).toEqual(["fallback_sms", "sms_cancelled", "cancelled"]);
    await h.run();
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });

  it("409 once something went out, saying what", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const smsOnly = await h.member({ sim: false });
    const stranger = await h.member({ sim: { blocked: true } });
    const pushed = (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id;
    const texted = (await h.post({ memberId: smsOnly.memberId, scenario: "otp", urgency: "minutes", ...text() })).body.id;
    const pnpNoSms = (await h.post({ memberId: stranger.memberId, scenario: "contract_reminder", urgency: "days", ...text() })).body.id;
    await h.run();
    const cases: [string, string, RegExp][] = [
      [pushed, "delivered", /LINE push was delivered/],
      [texted, "sms_sent", /an SMS was sent/],
      [pnpNoSms, "sent", /LINE PNP message was sent and no SMS fallback is pending/],
    ];
    for (const [id, status, why] of cases) {
      const before = await h.get(id);
      expect(before.status).toBe(status);
      const res = await cancel(id);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("conflict");
      expect(res.body.error.message).toMatch(why);
      expect(res.body.error.details.status).toBe(status);
      const after = await h.get(id);
      expect(after.status).toBe(status);
      expect(after.timeline).toEqual(before.timeline); // nothing changed, nothing recorded
    }
  });

  it("404 for an unknown id, 400 for a bad id, 401 without a key; nothing stored", async () => {
    const unknown = await cancel(randomUUID());
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
    const bad = await cancel("not-a-uuid");
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/params\.id/);
    const m = await h.member();
    const id = (await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() })).body.id;
    const noKey = await request(h.t.app).post(`/api/v1/notifications/${id}/cancel`).send();
    expect(noKey.status).toBe(401);
    expect((await h.get(id)).status).toBe("accepted");
    // any valid key may cancel (no per-key ownership yet)
    expect((await cancel(id, "second-key-abcdefghijkl")).body.status).toBe("cancelled");
  });
});
