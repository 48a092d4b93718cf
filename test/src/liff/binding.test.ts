import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sql } from "@oa-notify/db";
import { CONSENT_NOTICE_VERSIONS } from "@oa-notify/server/members/consent.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { bearer, bindByLink, bindingLink, buildLiffTestApp, CONSENT, createMember, type LiffTestContext, lineUser, randomPhone, rid } from "./helpers.ts";

let t: LiffTestContext;
beforeAll(async () => {
  t = await buildLiffTestApp();
});
afterAll(async () => t.close());

const bind = async (sub: string, body: unknown) =>
  request(t.app)
    .post("/liff-api/bindings")
    .set(bearer(await t.token(sub)))
    .send(body as object);
const otp = async (sub: string, phone: string) =>
  request(t.app)
    .post("/liff-api/otp")
    .set(bearer(await t.token(sub)))
    .send({ phone });
const member = async (memberId: string) => (await request(t.app).get(`/api/v1/members/${memberId}`).set(auth())).body;
const ledgerOf = (memberId: string) =>
  t.db.query<{ action: string; method: string; line_user_id: string; notice_version: string; purpose: string }>(
    sql`select action, method, line_user_id, notice_version, purpose from consent_ledger where member_id = ${memberId} order by id`,
  );
/** The code the SMS sink received for this phone (the only place the plain code exists). */
const lastCode = (e164: string) => {
  const m = [...t.sms.sent].reverse().find((s) => s.to === e164);
  return m ? /(\d{6})/.exec(m.text)![1]! : null;
};

describe("binding links", () => {
  it("creates a liff.line.me bind link that expires within 30 minutes", async () => {
    const { memberId } = await createMember(t);
    const res = await request(t.app).post(`/api/v1/members/${memberId}/binding-links`).set(auth()).send();
    expect(res.status).toBe(201);
    expect(res.body.url).toMatch(/^https:\/\/liff\.line\.me\/1657000001-AbCdEfGh\/bind\?token=[\w-]+\.[\w-]+\.[\w-]+$/);
    const ttl = Date.parse(res.body.expiresAt) - t.clock.now().getTime();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30 * 60_000);
  });

  it("needs the API key and an existing member", async () => {
    expect(
      (
        await request(t.app)
          .post(`/api/v1/members/${rid("m")}/binding-links`)
          .send()
      ).status,
    ).toBe(401);
    expect(
      (
        await request(t.app)
          .post(`/api/v1/members/${rid("nobody")}/binding-links`)
          .set(auth())
          .send()
      ).status,
    ).toBe(404);
  });

  it("binds with consent and records the grant in the ledger", async () => {
    const { memberId } = await createMember(t);
    const sub = lineUser();
    const { token } = await bindingLink(t, memberId);
    const res = await bind(sub, { bindingToken: token, consent: CONSENT });
    expect(res.status).toBe(201);
    expect(res.body.memberId).toBe(memberId);
    const m = await member(memberId);
    expect(m.lineUserId).toBe(sub);
    expect(m.boundAt).toBe(t.clock.now().toISOString());
    expect(await ledgerOf(memberId)).toEqual([
      { action: "grant", method: "binding_link", line_user_id: sub, notice_version: CONSENT.version, purpose: "transactional_notifications_via_line" },
    ]);
    const me = await request(t.app)
      .get("/liff-api/me")
      .set(bearer(await t.token(sub)));
    expect(me.body.member.memberId).toBe(memberId);
    expect(me.body.member.phone).toMatch(/^\+886\*{5}\d{3}$/);
  });

  it("refuses to bind without consent (400), and the link stays usable", async () => {
    const { memberId } = await createMember(t);
    const sub = lineUser();
    const { token } = await bindingLink(t, memberId);
    for (const consent of [undefined, { version: CONSENT.version, accepted: false }, { version: "made-up", accepted: true }]) {
      const res = await bind(sub, { bindingToken: token, ...(consent ? { consent } : {}) });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
    }
    expect((await member(memberId)).lineUserId).toBeNull();
    expect(await ledgerOf(memberId)).toEqual([]);
    expect((await bind(sub, { bindingToken: token, consent: CONSENT })).status).toBe(201);
  });

  it("refuses a reused binding link (409), even for the same user", async () => {
    const { memberId } = await createMember(t);
    const { token } = await bindingLink(t, memberId);
    const a = lineUser();
    expect((await bind(a, { bindingToken: token, consent: CONSENT })).status).toBe(201);
    const again = await bind(lineUser(), { bindingToken: token, consent: CONSENT });
    expect(again.status).toBe(409);
    expect((await bind(a, { bindingToken: token, consent: CONSENT })).status).toBe(409);
    expect((await member(memberId)).lineUserId).toBe(a);
  });

  it("refuses an expired, forged or tampered link", async () => {
    const { memberId } = await createMember(t);
    const { token } = await bindingLink(t, memberId);
    const [h, p, s] = token.split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), sub: "someone-else" })).toString("base64url")}.${s}`;
    expect((await bind(lineUser(), { bindingToken: tampered, consent: CONSENT })).status).toBe(400);
    t.clock.advance(31 * 60_000);
    const expired = await bind(lineUser(), { bindingToken: token, consent: CONSENT });
    expect(expired.status).toBe(400);
    expect((await member(memberId)).lineUserId).toBeNull();
  });

  it("one LINE user ↔ one member: binding elsewhere moves it and withdraws the old one in the ledger", async () => {
    const first = await createMember(t);
    const second = await createMember(t);
    const sub = lineUser();
    await bindByLink(t, first.memberId, sub);
    await bindByLink(t, second.memberId, sub);
    expect((await member(first.memberId)).lineUserId).toBeNull();
    expect((await member(second.memberId)).lineUserId).toBe(sub);
    expect((await ledgerOf(first.memberId)).map((r) => [r.action, r.method])).toEqual([
      ["grant", "binding_link"],
      ["withdraw", "rebind"],
    ]);
    // A member re-bound by another LINE user: the old user's binding ends too.
    const other = lineUser();
    await bindByLink(t, second.memberId, other);
    expect((await member(second.memberId)).lineUserId).toBe(other);
    expect((await ledgerOf(second.memberId)).map((r) => [r.action, r.line_user_id === sub ? "old" : "new"])).toEqual([
      ["grant", "old"],
      ["withdraw", "old"],
      ["grant", "new"],
    ]);
    const me = await request(t.app)
      .get("/liff-api/me")
      .set(bearer(await t.token(sub)));
    expect(me.body.member).toBeNull();
  });
});

describe("consent notice versions", () => {
  it("the version the LIFF app shows is one the server accepts, and /liff-config names the current one", async () => {
    const appSource = readFileSync(fileURLToPath(new URL("../../../liff-app/src/consent.ts", import.meta.url)), "utf8");
    const appVersion = /CONSENT_VERSION = "([^"]+)"/.exec(appSource)![1]!;
    expect(CONSENT_NOTICE_VERSIONS).toContain(appVersion);
    expect((await request(t.app).get("/liff-config")).body.consentVersion).toBe(appVersion);
  });
});

describe("withdrawal", () => {
  it("DELETE /liff-api/bindings unbinds at once: the member has no LINE user, the ledger keeps history", async () => {
    const { memberId } = await createMember(t);
    const sub = lineUser();
    await bindByLink(t, memberId, sub);
    const del = await request(t.app)
      .delete("/liff-api/bindings")
      .set(bearer(await t.token(sub)));
    expect(del.status).toBe(204);
    // The notifier routes by members.line_user_id at send time: with it gone no push can go to this user.
    const m = await member(memberId);
    expect(m.lineUserId).toBeNull();
    expect(m.friend).toBe(false);
    const rows = await t.db.query<{ n: string }>(sql`select count(*) as n from members where line_user_id = ${sub}`);
    expect(Number(rows[0]!.n)).toBe(0);
    expect((await ledgerOf(memberId)).map((r) => r.action)).toEqual(["grant", "withdraw"]);
    const history = await request(t.app)
      .get("/liff-api/consents")
      .set(bearer(await t.token(sub)));
    expect(history.body.items.map((i: { action: string }) => i.action)).toEqual(["withdraw", "grant"]);
    expect(
      (
        await request(t.app)
          .delete("/liff-api/bindings")
          .set(bearer(await t.token(sub)))
      ).status,
    ).toBe(404);
  });

  it("the ledger cannot be rewritten", async () => {
    const { memberId } = await createMember(t);
    await bindByLink(t, memberId, lineUser());
    await expect(t.db.query(sql`delete from consent_ledger where member_id = ${memberId}`)).rejects.toThrow();
    await expect(t.db.query(sql`update consent_ledger set action = 'x' where member_id = ${memberId}`)).rejects.toThrow();
  });
});

describe("phone + OTP", () => {
  it("sends a 6-digit code to a member's phone, stores only a hash, and binds with it", async () => {
    const { memberId, e164, phone } = await createMember(t);
    const sub = lineUser();
    const res = await otp(sub, phone);
    expect(res.status).toBe(202);
    const code = lastCode(e164);
    expect(code).toMatch(/^\d{6}$/);
    const stored = await t.db.query<{ code_hash: string }>(sql`select code_hash from otp_challenges where line_user_id = ${sub}`);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.code_hash).not.toContain(code!);
    const outbox = await t.db.query<{ purpose: string; status: string }>(
      sql`select purpose, status from sms_outbox where phone_hash = (select phone_hash from members where member_id = ${memberId})`,
    );
    expect(outbox).toEqual([{ purpose: "otp", status: "sent" }]);
    expect(t.logs.text).not.toContain(code!);
    expect(t.logs.text).not.toContain(e164);

    const b = await bind(sub, { phone, otp: code, consent: CONSENT });
    expect(b.status).toBe(201);
    expect((await member(memberId)).lineUserId).toBe(sub);
    expect((await ledgerOf(memberId)).map((r) => r.method)).toEqual(["otp"]);
    // Single use.
    expect((await bind(sub, { phone, otp: code, consent: CONSENT })).status).toBe(400);
  });

  it("answers the same for an unknown phone and sends nothing", async () => {
    const phone = randomPhone();
    const sentBefore = t.sms.sent.length;
    const res = await otp(lineUser(), phone);
    const known = await createMember(t);
    const res2 = await otp(lineUser(), known.phone);
    expect(res.status).toBe(res2.status);
    expect(Object.keys(res.body).sort()).toEqual(Object.keys(res2.body).sort());
    expect(t.sms.sent.length).toBe(sentBefore + 1);
  });

  it("rejects a bad phone with 400", async () => {
    const res = await otp(lineUser(), "12345");
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
  });

  it("requires consent before any code is checked", async () => {
    const { phone, e164, memberId } = await createMember(t);
    const sub = lineUser();
    await otp(sub, phone);
    const res = await bind(sub, { phone, otp: lastCode(e164) });
    expect(res.status).toBe(400);
    const ch = await t.db.query<{ attempts: number }>(sql`select attempts from otp_challenges where line_user_id = ${sub}`);
    expect(ch[0]!.attempts).toBe(0);
    expect((await member(memberId)).lineUserId).toBeNull();
  });

  it("locks after 5 wrong codes (429), even the right code then", async () => {
    const { phone, e164, memberId } = await createMember(t);
    const sub = lineUser();
    await otp(sub, phone);
    const code = lastCode(e164)!;
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    for (let i = 0; i < 5; i++) {
      const r = await bind(sub, { phone, otp: wrong, consent: CONSENT });
      expect(r.status).toBe(400);
      expect(r.body.error.details.attemptsLeft).toBe(4 - i);
    }
    const locked = await bind(sub, { phone, otp: code, consent: CONSENT });
    expect(locked.status).toBe(429);
    expect((await member(memberId)).lineUserId).toBeNull();
  });

  it("expires after 5 minutes", async () => {
    const { phone, e164, memberId } = await createMember(t);
    const sub = lineUser();
    await otp(sub, phone);
    t.clock.advance(5 * 60_000 + 1000);
    expect((await bind(sub, { phone, otp: lastCode(e164), consent: CONSENT })).status).toBe(400);
    expect((await member(memberId)).lineUserId).toBeNull();
  });

  it("is bound to the LINE user who asked: another user cannot use the code", async () => {
    const { phone, e164, memberId } = await createMember(t);
    const victim = lineUser();
    await otp(victim, phone);
    const code = lastCode(e164)!;
    const attacker = lineUser();
    const r = await bind(attacker, { phone, otp: code, consent: CONSENT });
    expect(r.status).toBe(400);
    expect((await member(memberId)).lineUserId).toBeNull();
    // The rightful user still can.
    expect((await bind(victim, { phone, otp: code, consent: CONSENT })).status).toBe(201);
  });

  it("rate-limits code requests per phone and per LINE user (3 per 10 minutes)", async () => {
    const { phone } = await createMember(t);
    for (let i = 0; i < 3; i++) expect((await otp(lineUser(), phone)).status).toBe(202);
    const limited = await otp(lineUser(), phone);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);

    const sub = lineUser();
    for (let i = 0; i < 3; i++) expect((await otp(sub, randomPhone())).status).toBe(202);
    expect((await otp(sub, randomPhone())).status).toBe(429);
    t.clock.advance(10 * 60_000 + 1000);
    expect((await otp(sub, randomPhone())).status).toBe(202);
  });
});
