import { phoneHash } from "@oa-notify/server/lib/phone.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { CONSENT } from "../liff/helpers.ts";
import { MIN, type NotifyHarness, notifyHarness, text } from "./harness.ts";

/**
 * Issue 10, points 1 and 2 through the real path (API, worker, LINE emulator, signed webhooks): a withdrawal of LINE
 * consent (LIFF or customer service) and a blocked OA both keep every LINE message away from the member.
 */
let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness();
});
afterAll(async () => h?.close());

/** Every call to LINE's PNP endpoints naming this phone (accepted or not). */
const pnpCallsFor = (e164: string) =>
  h.emulator.requests().filter((r) => r.path.startsWith("/bot/pnp/") && JSON.stringify(r.body).includes(phoneHash(e164))).length;
const pushesTo = (userId: string) => h.emulator.accepted().filter((a) => a.kind === "push" && a.to === userId).length;

async function bindByLiff(memberId: string, userId: string): Promise<string> {
  const idToken = await h.emulator.mintIdToken(userId);
  const link = await request(h.t.app).post(`/api/v1/members/${memberId}/binding-links`).set(auth()).send();
  const bound = await request(h.t.app)
    .post("/liff-api/bindings")
    .set({ Authorization: `Bearer ${idToken}` })
    .send({ bindingToken: new URL(link.body.url).searchParams.get("token"), consent: CONSENT });
  expect(bound.status).toBe(201);
  return idToken;
}

describe("withdrawal of LINE consent", () => {
  it("LIFF withdrawal: the next notice goes by SMS, the emulator gets no PNP for that phone hash; binding again restores LINE", async () => {
    const m = await h.member({ sim: { friend: false }, follow: true });
    const idToken = await bindByLiff(m.memberId, m.userId!);
    const del = await request(h.t.app)
      .delete("/liff-api/bindings")
      .set({ Authorization: `Bearer ${idToken}` });
    expect(del.status).toBe(204);

    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", ...text("本期帳單 NT$1,234") });
    expect(res.status).toBe(202);
    expect(res.body.route.channel).toBe("sms");
    expect(res.body.route.rule).toBe("member withdrew LINE consent on 2026/11/26 10:00: SMS");
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    expect(n.route.rule).toBe("member withdrew LINE consent on 2026/11/26 10:00: SMS");
    expect(n.route.inputs.lineConsentWithdrawnAt).toBe("2026-11-26T02:00:00.000Z");
    expect(pnpCallsFor(m.e164)).toBe(0);
    expect(pushesTo(m.userId!)).toBe(0);
    expect(h.emulator.smsInbox(m.e164)).toHaveLength(1);

    // The ledger, newest first: the LIFF withdrawal after the binding link's grant.
    const ledger = await request(h.t.app).get(`/api/v1/members/${m.memberId}/consents`).set(auth());
    expect(ledger.status).toBe(200);
    expect(ledger.body.line).toEqual({ state: "withdrawn", since: "2026-11-26T02:00:00.000Z" });
    expect(ledger.body.items.map((i: { action: string; method: string }) => `${i.action}/${i.method}`)).toEqual(["withdraw/liff", "grant/binding_link"]);

    // Consent again (bind in LIFF): push to the friend once more.
    h.t.clock.advance(MIN);
    await bindByLiff(m.memberId, m.userId!);
    const again = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "day", ...text() });
    expect(again.body.route.channel).toBe("push");
    await h.run();
    expect(pushesTo(m.userId!)).toBe(1);
  });

  it("a withdrawal after acceptance holds at send time: a notice routed to PNP goes by SMS instead", async () => {
    const m = await h.member();
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "hour", ...text() });
    expect(res.body.route.channel).toBe("pnp");
    const w = await request(h.t.app).post(`/api/v1/members/${m.memberId}/consents`).set(auth()).send({ action: "withdraw", reason: "客服電話 by phone" });
    expect(w.status).toBe(201);
    expect(w.body.line.state).toBe("withdrawn");
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.channel).toBe("sms");
    expect(n.status).toBe("sms_sent");
    expect(n.route.stage).toBe("dispatch");
    expect(n.route.rule).toMatch(/^member withdrew LINE consent on \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}: SMS$/);
    expect(pnpCallsFor(m.e164)).toBe(0);
  });

  it("customer service (method admin): withdraw stops push and PNP, with no SMS allowed the notice is undeliverable; grant restores PNP", async () => {
    const m = await h.member({ bind: true, follow: true });
    const w = await request(h.t.app).post(`/api/v1/members/${m.memberId}/consents`).set(auth()).send({ action: "withdraw" });
    expect(w.status).toBe(201);
    const member = await request(h.t.app).get(`/api/v1/members/${m.memberId}`).set(auth());
    expect(member.body.lineUserId).toBeNull();

    const res = await h.post({ memberId: m.memberId, scenario: "contract_reminder", urgency: "days", ...text("合約將於 12/31 到期") });
    expect(res.status).toBe(202);
    expect(res.body.route.channel).toBe("none");
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("undeliverable");
    expect(n.route.rule).toMatch(/^member withdrew LINE consent on .*: no LINE message$/);
    expect(pushesTo(m.userId!)).toBe(0);
    expect(pnpCallsFor(m.e164)).toBe(0);

    h.t.clock.advance(MIN);
    const g = await request(h.t.app).post(`/api/v1/members/${m.memberId}/consents`).set(auth()).send({ action: "grant" });
    expect(g.body.line.state).toBe("granted");
    const after = await h.post({ memberId: m.memberId, scenario: "contract_reminder", urgency: "days", ...text() });
    expect(after.body.route.channel).toBe("pnp");
    await h.run();
    expect(pnpCallsFor(m.e164)).toBe(1);
    const ledger = await request(h.t.app).get(`/api/v1/members/${m.memberId}/consents`).set(auth());
    expect(ledger.body.items.map((i: { action: string; method: string }) => `${i.action}/${i.method}`)).toEqual(["grant/admin", "withdraw/admin"]);
  });

  it("consent API: 404 for an unknown member, 400 for a bad action, and nothing is written", async () => {
    expect((await request(h.t.app).post("/api/v1/members/nobody-here/consents").set(auth()).send({ action: "withdraw" })).status).toBe(404);
    const m = await h.member({ sim: false });
    expect((await request(h.t.app).post(`/api/v1/members/${m.memberId}/consents`).set(auth()).send({ action: "pause" })).status).toBe(400);
    expect((await request(h.t.app).get(`/api/v1/members/${m.memberId}/consents`).set(auth())).body).toEqual({
      memberId: m.memberId,
      line: { state: "none", since: null },
      items: [],
    });
  });
});

describe("blocked means no PNP", () => {
  it("an unfollowed bound member goes straight to SMS with no PNP call at all; following again restores push", async () => {
    const m = await h.member({ bind: true, follow: true });
    h.t.clock.advance(1000);
    await h.emulator.unfollow(m.userId!);
    await h.t.app.services.processor.drain();
    const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    expect(res.body.route).toMatchObject({ channel: "sms", rule: "LINE user blocked the OA (unfollowed): SMS" });
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    expect(n.timeline.map((e: { state: string }) => e.state)).toEqual(["accepted", "queued", "sms_sent"]);
    expect(pnpCallsFor(m.e164)).toBe(0);

    // days without sms: nothing can reach a blocked user, said at once (no 24 h wait for a PNP LINE never delivers).
    const quiet = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "days", ...text() });
    await h.run();
    const q = await h.get(quiet.body.id);
    expect(q.status).toBe("undeliverable");
    expect(q.route.rule).toBe("LINE user blocked the OA (unfollowed): no PNP");
    expect(pnpCallsFor(m.e164)).toBe(0);

    h.t.clock.advance(1000);
    await h.emulator.follow(m.userId!);
    await h.t.app.services.processor.drain();
    const back = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    expect(back.body.route.channel).toBe("push");
    await h.run();
    expect(pushesTo(m.userId!)).toBe(1);
  });
});
