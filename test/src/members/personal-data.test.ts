import { sql } from "@oa-notify/db";
import { phoneHash } from "@oa-notify/server/lib/phone.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { CONSENT } from "../liff/helpers.ts";
import { type NotifyHarness, notifyHarness, randomPhone, text } from "../notify/harness.ts";

/** Issue 10, point 9: erasure, retention, and a phone change proven by an OTP to the new number. */
let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness({ env: { RETENTION_DAYS: "30" } });
});
afterAll(async () => h?.close());

const DAY = 86_400_000;

describe("DELETE /api/v1/members/:id", () => {
  it("erases phone, hash and name, ends the binding with a ledger row, pseudonymises the notifications; new notices are refused", async () => {
    const m = await h.member({ bind: true, follow: true });
    await request(h.t.app).put(`/api/v1/members/${m.memberId}`).set(auth()).send({ phone: m.phone, name: "王小明" });
    const sent = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    await h.run();
    const del = await request(h.t.app).delete(`/api/v1/members/${m.memberId}`).set(auth());
    expect(del.status).toBe(204);

    const [row] = await h.t.db.query<Record<string, unknown>>(sql`select * from members where member_id = ${m.memberId}`);
    expect(row).toMatchObject({ phone_e164: null, phone_hash: null, name: null, line_user_id: null });
    expect(row!["erased_at"]).not.toBeNull();
    const n = await h.get(sent.body.id);
    expect(n.phone).toBeNull();
    expect(n.status).toBe("delivered"); // its state and cost stay
    const leftovers = await h.t.db.query(
      sql`select id from notifications where phone_e164 = ${m.e164} or phone_hash = ${phoneHash(m.e164)} or member_id = ${m.memberId} and phone_e164 is not null`,
    );
    expect(leftovers).toEqual([]);
    const ledger = await h.t.db.query<{ action: string; method: string; line_user_id: string | null }>(
      sql`select action, method, line_user_id from consent_ledger where member_id = ${m.memberId} order by id`,
    );
    expect(ledger).toEqual([{ action: "withdraw", method: "erasure", line_user_id: m.userId }]);

    expect((await request(h.t.app).get(`/api/v1/members/${m.memberId}`).set(auth())).status).toBe(404);
    expect((await request(h.t.app).delete(`/api/v1/members/${m.memberId}`).set(auth())).status).toBe(404);
    const after = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    expect(after.status).toBe(422);
  });

  it("a notice still pending for an erased member reaches nobody: undeliverable, no SMS to the old number", async () => {
    const m = await h.member({ sim: false });
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", ...text() });
    expect((await request(h.t.app).delete(`/api/v1/members/${m.memberId}`).set(auth())).status).toBe(204);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("undeliverable");
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(0);
  });
});

describe("RETENTION_DAYS", () => {
  it("purges phone numbers and content of settled notifications older than the limit; states and costs stay", async () => {
    const m = await h.member({ sim: false });
    const old = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", text: "驗證碼 111111" });
    await h.run();
    const oldCost = (await h.get(old.body.id)).costTwd;
    expect(oldCost).toBeGreaterThan(0);
    h.t.clock.advance(31 * DAY);
    const fresh = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", text: "驗證碼 222222" });
    await h.run();
    expect(await h.worker.purgeNow()).toBeGreaterThanOrEqual(1);
    const [o] = await h.t.db.query<Record<string, unknown>>(
      sql`select phone_e164, phone_hash, content, purged_at from notifications where id = ${old.body.id}`,
    );
    expect(o).toMatchObject({ phone_e164: null, phone_hash: null, content: {} });
    expect(o!["purged_at"]).not.toBeNull();
    const after = await h.get(old.body.id);
    expect(after.status).toBe("sms_sent");
    expect(after.costTwd).toBe(oldCost);
    const [f] = await h.t.db.query<{ phone_e164: string | null }>(sql`select phone_e164 from notifications where id = ${fresh.body.id}`);
    expect(f!.phone_e164).toBe(m.e164);
    expect(await h.worker.purgeNow()).toBe(0); // idempotent
  });
});

describe("LIFF phone change", () => {
  it("sends a code to the new number, then replaces the phone; later SMS go to the new number", async () => {
    const m = await h.member({ sim: { friend: false } });
    const idToken = await h.emulator.mintIdToken(m.userId!);
    const link = await request(h.t.app).post(`/api/v1/members/${m.memberId}/binding-links`).set(auth()).send();
    const bearer = { Authorization: `Bearer ${idToken}` };
    expect(
      (
        await request(h.t.app)
          .post("/liff-api/bindings")
          .set(bearer)
          .send({ bindingToken: new URL(link.body.url).searchParams.get("token"), consent: CONSENT })
      ).status,
    ).toBe(201);
    const next = randomPhone();
    const otp = await request(h.t.app).post("/liff-api/phone/otp").set(bearer).send({ phone: next.local });
    expect(otp.status).toBe(202);
    // The app's own SMS provider (the OTP does not go through the notifier).
    const sms = h.t.sms.sent.filter((x) => x.to === next.e164);
    expect(sms).toHaveLength(1);
    expect(sms[0]!.text).toContain("手機號碼變更驗證碼");
    const code = /(\d{6})/.exec(sms[0]!.text)![1]!;
    const wrong = await request(h.t.app)
      .post("/liff-api/phone")
      .set(bearer)
      .send({ phone: next.local, otp: code === "000000" ? "111111" : "000000" });
    expect(wrong.status).toBe(400);
    const ok = await request(h.t.app).post("/liff-api/phone").set(bearer).send({ phone: next.local, otp: code });
    expect(ok.status).toBe(200);
    expect(ok.body.phone).toBe(`+886*****${next.e164.slice(-3)}`);
    expect((await request(h.t.app).get(`/api/v1/members/${m.memberId}`).set(auth())).body.phone).toBe(next.e164);
    // The code is single-use.
    expect((await request(h.t.app).post("/liff-api/phone").set(bearer).send({ phone: next.local, otp: code })).status).toBe(400);
  });

  it("needs a binding: an unbound LINE user gets 404 and no code is sent", async () => {
    const m = await h.member({ sim: { friend: false } });
    const idToken = await h.emulator.mintIdToken(m.userId!);
    const next = randomPhone();
    const res = await request(h.t.app)
      .post("/liff-api/phone/otp")
      .set({ Authorization: `Bearer ${idToken}` })
      .send({ phone: next.local });
    expect(res.status).toBe(404);
    expect(h.t.sms.sent.filter((x) => x.to === next.e164)).toHaveLength(0);
  });
});
