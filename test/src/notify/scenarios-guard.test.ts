import { sql } from "@oa-notify/db";
import { phoneHash } from "@oa-notify/server/lib/phone.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp } from "../helpers/app.ts";
import { type NotifyHarness, notifyHarness, text } from "./harness.ts";

/** Issue 10, points 3, 4 and 6: the scenario registry, the promotion guard, next steps that exist. */
let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness();
});
afterAll(async () => h?.close());

const pnpCallsFor = (e164: string) =>
  h.emulator.requests().filter((r) => r.path.startsWith("/bot/pnp/") && JSON.stringify(r.body).includes(phoneHash(e164))).length;
const count = async () => Number((await h.t.db.query<{ n: string }>(sql`select count(*) as n from notifications`))[0]!.n);

describe("scenario registry", () => {
  it("is seeded with LINE Taiwan's 18 use cases, in the sales kit's order, each with its ignore line", async () => {
    const res = await request(h.t.app).get("/api/v1/scenarios").set(auth());
    expect(res.status).toBe(200);
    const list = res.body.scenarios as { scenario: string; useCaseNo: number; pnpApproved: boolean; ignoreLine: string }[];
    expect(list.slice(0, 18).map((s) => s.scenario)).toEqual([
      "shipping",
      "purchase",
      "product_ready",
      "reservation",
      "reservation_reminder",
      "registration",
      "card_issued",
      "account_opened",
      "points",
      "payment",
      "otp",
      "billing",
      "rental_due",
      "contract_reminder",
      "payment_reminder",
      "repair_done",
      "outage",
      "contact_guide",
    ]);
    expect(list.slice(0, 18).map((s) => s.useCaseNo)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(list.slice(0, 18).every((s) => s.pnpApproved)).toBe(true);
    expect(list.find((s) => s.scenario === "billing")!.ignoreLine).toBe("若您已完成繳費，請忽略此訊息");
  });

  it("an unknown scenario is a 422 naming it, and nothing is stored", async () => {
    const m = await h.member();
    const before = await count();
    const res = await h.post({ memberId: m.memberId, scenario: "refund", urgency: "day", ...text("退款已完成") });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain("unknown scenario refund");
    expect(res.body.error.details[0].field).toBe("body.scenario");
    expect(await count()).toBe(before);
  });

  it("an extra use case LINE approved (PUT) goes by PNP; one not approved never does (SMS instead), decided again at send time", async () => {
    const put = await request(h.t.app)
      .put("/api/v1/scenarios/refund")
      .set(auth())
      .send({ pnpApproved: true, title: "退款完成通知 Refund", ignoreLine: "若您已確認退款，請忽略此訊息", defaultUrgency: "day" });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ scenario: "refund", pnpApproved: true, defaultUrgency: "day", useCaseNo: null });

    const a = await h.member();
    const ok = await h.post({ memberId: a.memberId, scenario: "refund", ...text("退款 NT$500 已完成") }); // urgency from the scenario
    expect(ok.status).toBe(202);
    expect(ok.body.route).toMatchObject({ channel: "pnp", inputs: { urgency: "day", scenarioApproved: true } });

    // LINE withdrew the approval before the worker got to it: no PNP.
    expect((await request(h.t.app).put("/api/v1/scenarios/refund").set(auth()).send({ pnpApproved: false })).status).toBe(200);
    await h.run();
    const n = await h.get(ok.body.id);
    expect(n.channel).toBe("sms");
    expect(n.route.rule).toBe("scenario not approved for PNP: SMS");
    expect(pnpCallsFor(a.e164)).toBe(0);
    expect(h.emulator.smsInbox(a.e164)).toHaveLength(1);
  });

  it("DELETE retires a scenario: new notices naming it are refused, GET no longer lists it; PUT brings it back", async () => {
    expect((await request(h.t.app).put("/api/v1/scenarios/flight_change").set(auth()).send({ pnpApproved: true })).status).toBe(201);
    expect((await request(h.t.app).delete("/api/v1/scenarios/flight_change").set(auth())).status).toBe(204);
    expect((await request(h.t.app).delete("/api/v1/scenarios/flight_change").set(auth())).status).toBe(404);
    const list = await request(h.t.app).get("/api/v1/scenarios").set(auth());
    expect(list.body.scenarios.map((s: { scenario: string }) => s.scenario)).not.toContain("flight_change");
    const m = await h.member();
    const res = await h.post({ memberId: m.memberId, scenario: "flight_change", urgency: "day", ...text("航班異動") });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain("flight_change");
    expect((await request(h.t.app).put("/api/v1/scenarios/flight_change").set(auth()).send({ pnpApproved: true })).status).toBe(200);
    expect((await h.post({ memberId: m.memberId, scenario: "flight_change", urgency: "day", ...text("航班異動") })).status).toBe(202);
  });

  it("the dashboard page has a scenario list, filled by its own script from GET /api/v1/scenarios", async () => {
    const page = await request(h.t.app).get("/dashboard/");
    expect(page.text).toContain('<table id="scenarios-table">');
    expect(page.text).toContain('<script src="/dashboard/scenarios.js" defer></script>');
    const js = await request(h.t.app).get("/dashboard/scenarios.js");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(js.text).toContain('window.OA.api("/scenarios")');
    expect(js.text).not.toContain("innerHTML");
  });

  it("validates the registry API: bad name, missing pnpApproved, unknown field, unknown urgency", async () => {
    const put = (name: string, body: unknown) =>
      request(h.t.app)
        .put(`/api/v1/scenarios/${name}`)
        .set(auth())
        .send(body as object);
    expect((await put("Bad-Name", { pnpApproved: true })).status).toBe(400);
    expect((await put("ok_name", {})).status).toBe(400);
    expect((await put("ok_name", { pnpApproved: true, color: "red" })).status).toBe(400);
    expect((await put("ok_name", { pnpApproved: true, defaultUrgency: "soon" })).status).toBe(400);
    expect((await request(h.t.app).get("/api/v1/scenarios/ok_name").set(auth())).status).toBe(404);
  });
});

describe("promotion guard", () => {
  it("points with promotional wording → 422 promotional_content naming the matched words; nothing stored, nothing sent", async () => {
    const m = await h.member();
    const before = await count();
    const res = await h.post({ memberId: m.memberId, scenario: "points", urgency: "day", text: "雙11促銷贈點，點數加倍，立即購買！" });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("promotional_content");
    expect(res.body.error.details[0].matched).toEqual(["促銷", "立即購買", "贈點"]);
    expect(res.body.error.message).toContain("促銷, 立即購買, 贈點");
    expect(await count()).toBe(before);
    await h.run();
    expect(pnpCallsFor(m.e164)).toBe(0);
  });

  it("checks English words as whole words, in flex messages, templates and the SMS text too", async () => {
    const m = await h.member();
    const cases: [unknown, string[]][] = [
      [{ text: "Your order of wholesale goods has shipped" }, []],
      [{ text: "Big SALE this weekend" }, ["sale"]],
      [{ text: "已出貨", sms: { text: "Use coupon X1" } }, ["coupon"]],
      [
        {
          messages: [
            {
              type: "flex",
              altText: "出貨通知",
              contents: { type: "bubble", body: { type: "box", layout: "vertical", contents: [{ type: "text", text: "限時折扣" }] } },
            },
          ],
        },
        ["折扣", "限時"],
      ],
      [{ template: { templateKey: "shipment_completed_tw", body: { items: [{ itemKey: "k1", content: "下單享優惠" }] } } }, ["優惠"]],
    ];
    for (const [content, matched] of cases) {
      const res = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...(content as object) });
      if (matched.length === 0) expect(res.status, JSON.stringify(content)).toBe(202);
      else {
        expect(res.status, JSON.stringify(content)).toBe(422);
        expect(res.body.error.details[0].matched).toEqual(matched);
      }
    }
  });

  it("promotional: true goes by push to a friend only (the rule says so); to a non-friend it is a 422", async () => {
    const f = await h.member({ bind: true, follow: true });
    const res = await h.post({ memberId: f.memberId, scenario: "points", urgency: "day", text: "雙11促銷贈點", promotional: true });
    expect(res.status).toBe(202);
    expect(res.body.route).toMatchObject({ channel: "push", rule: "promotional: push only (a friend now: Messaging API push)", smsAfterSeconds: null });
    const stranger = await h.member();
    const no = await h.post({ memberId: stranger.memberId, scenario: "points", urgency: "day", text: "雙11促銷贈點", promotional: true });
    expect(no.status).toBe(422);
    expect(no.body.error.details[0].field).toBe("body.promotional");
    // The friend unfollows before the send: undeliverable, never PNP or SMS.
    h.t.clock.advance(1000);
    await h.emulator.unfollow(f.userId!);
    await h.t.app.services.processor.drain();
    await h.run();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("undeliverable");
    expect(n.route.rule).toBe("promotional: push only");
    expect(pnpCallsFor(f.e164)).toBe(0);
    expect(h.emulator.smsInbox(f.e164)).toHaveLength(0);
  });

  it("batch items get promotional_content per item", async () => {
    const m = await h.member();
    const res = await request(h.t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .send({
        notifications: [
          { memberId: m.memberId, scenario: "points", urgency: "day", text: "本月獲得 120 點" },
          { memberId: m.memberId, scenario: "points", urgency: "day", text: "限時加碼贈點" },
        ],
      });
    expect(res.status).toBe(202);
    expect(res.body.results[0].id).toBeTruthy();
    expect(res.body.results[1].error).toMatchObject({ code: "promotional_content" });
    expect(res.body.results[1].error.details[0].matched).toEqual(["限時", "贈點"]);
  });

  it("PROMO_WORDS replaces the list", async () => {
    const t = await buildTestApp({ env: { PROMO_WORDS: "清倉, blowout" } });
    try {
      const post = (s: string) =>
        request(t.app).post("/api/v1/notifications").set(auth()).send({ phone: "0912345000", scenario: "shipping", urgency: "day", text: s });
      expect((await post("限時優惠")).status).toBe(202);
      const r = await post("年終清倉 Blowout");
      expect(r.status).toBe(422);
      expect(r.body.error.details[0].matched).toEqual(["清倉", "blowout"]);
    } finally {
      await t.close();
    }
  });
});

describe("next step must exist", () => {
  it("a missing order, another member's bill, or no member to own it → 422; the owner's own bill is accepted", async () => {
    const a = await h.member();
    const b = await h.member();
    const billOfB = await h.record("bill", b.memberId);
    const before = await count();
    const missing = await h.post({ memberId: a.memberId, scenario: "shipping", urgency: "day", ...text(), nextStep: { type: "order", id: "o-nowhere" } });
    expect(missing.status).toBe(422);
    expect(missing.body.error.message).toContain("order o-nowhere does not exist");
    const foreign = await h.post({ memberId: a.memberId, scenario: "billing", urgency: "day", ...text(), nextStep: { type: "bill", id: billOfB } });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error.message).toContain(`does not belong to member ${a.memberId}`);
    const phoneOnly = await h.post({ phone: b.phone, scenario: "billing", urgency: "day", ...text(), nextStep: { type: "bill", id: billOfB } });
    expect(phoneOnly.status).toBe(422);
    expect(phoneOnly.body.error.details[0].field).toBe("body.nextStep");
    expect(await count()).toBe(before);
    const own = await h.post({ memberId: b.memberId, scenario: "billing", urgency: "day", ...text(), nextStep: { type: "bill", id: billOfB } });
    expect(own.status).toBe(202);
  });
});
