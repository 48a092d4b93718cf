import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { HOUR, MIN, type NotifyHarness, notifyHarness, text } from "./harness.ts";

let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness();
});
afterAll(async () => h?.close());

const at = (ms: number) => new Date(h.t.clock.now().getTime() + ms).toISOString();
const sendsTo = (userId: string) => h.emulator.accepted().filter((a) => a.to === userId).length;

describe("sendAt (scheduled notifications)", () => {
  it("nothing goes out before sendAt; the timeline says it is scheduled; then it is sent", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const sendAt = at(2 * HOUR);
    const res = await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", sendAt, ...text() });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    let n = await h.get(id);
    expect(n.sendAt).toBe(sendAt);
    expect(n.timeline).toEqual([{ at: n.createdAt, state: "accepted", detail: { scheduledFor: expect.any(String) } }]);
    expect(Date.parse(n.timeline[0].detail.scheduledFor)).toBe(Date.parse(sendAt));

    await h.run();
    h.t.clock.advance(2 * HOUR - 1000);
    await h.run();
    n = await h.get(id);
    expect(n.status).toBe("accepted");
    expect(sendsTo(friend.userId!)).toBe(0);

    h.t.clock.advance(1000);
    await h.run();
    n = await h.get(id);
    expect(n.status).toBe("delivered");
    expect(sendsTo(friend.userId!)).toBe(1);
    expect(Date.parse(n.sentAt)).toBe(Date.parse(sendAt));
  });

  it("cancel works until sendAt, and a cancelled scheduled notice never goes out", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const id = (await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", sendAt: at(HOUR), ...text() })).body.id as string;
    h.t.clock.advance(59 * MIN);
    await h.run();
    const c = await request(h.t.app).post(`/api/v1/notifications/${id}/cancel`).set(auth()).send();
    expect(c.status).toBe(200);
    expect(c.body.status).toBe("cancelled");
    h.t.clock.advance(2 * HOUR);
    await h.run();
    expect((await h.get(id)).status).toBe("cancelled");
    expect(sendsTo(friend.userId!)).toBe(0);
  });

  it("the SMS deadline counts from sendAt, not from acceptance", async () => {
    const stranger = await h.member({ sim: { blocked: true } }); // PNP accepted by LINE, never delivered
    const sendAt = at(3 * HOUR);
    const id = (await h.post({ memberId: stranger.memberId, scenario: "shipping", urgency: "hour", sendAt, ...text() })).body.id as string;
    h.t.clock.advance(3 * HOUR);
    await h.run();
    let n = await h.get(id);
    expect(n.status).toBe("sent");
    expect(Date.parse(n.smsDeadlineAt)).toBe(Date.parse(sendAt) + 15 * MIN);
    h.t.clock.advance(14 * MIN);
    await h.run();
    expect((await h.get(id)).status).toBe("sent");
    h.t.clock.advance(MIN);
    await h.run();
    n = await h.get(id);
    expect(n.status).toBe("sms_sent");
  });

  it("at most 30 days ahead (422, nothing stored); a bad time is a 400; batch items take sendAt too", async () => {
    const friend = await h.member({ bind: true, follow: true });
    const far = await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", sendAt: at(30 * 24 * HOUR + 1000), ...text() });
    expect(far.status).toBe(422);
    expect(far.body.error.message).toMatch(/sendAt/);
    const bad = await h.post({ memberId: friend.memberId, scenario: "shipping", urgency: "day", sendAt: "tomorrow", ...text() });
    expect(bad.status).toBe(400);
    const [count] = await h.t.db.query<{ n: string }>(sql`select count(*) as n from notifications where member_id = ${friend.memberId}`);
    expect(Number(count!.n)).toBe(0);

    const b = await request(h.t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .send({
        notifications: [
          { memberId: friend.memberId, scenario: "shipping", urgency: "day", sendAt: at(30 * 24 * HOUR), ...text() },
          { memberId: friend.memberId, scenario: "shipping", urgency: "day", sendAt: at(31 * 24 * HOUR), ...text() },
        ],
      });
    expect(b.status).toBe(202);
    expect(b.body.results[0]).toMatchObject({ status: "accepted" });
    expect(b.body.results[1].error).toMatchObject({ code: "unprocessable", message: expect.stringMatching(/notifications\.1\.sendAt/) });
    h.t.clock.advance(29 * 24 * HOUR);
    await h.run();
    expect(sendsTo(friend.userId!)).toBe(0);
    h.t.clock.advance(24 * HOUR);
    await h.run();
    expect(sendsTo(friend.userId!)).toBe(1);
  });
});
