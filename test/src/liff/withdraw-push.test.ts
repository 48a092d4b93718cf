import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { type NotifyHarness, notifyHarness, text } from "../notify/harness.ts";
import { CONSENT } from "./helpers.ts";

/**
 * End to end with the notifier and the LINE emulator: a friend bound through the LIFF API gets pushes; after
 * DELETE /liff-api/bindings the very next notice is not pushed to that LINE user.
 */
let h: NotifyHarness;
beforeAll(async () => {
  h = await notifyHarness();
});
afterAll(async () => h?.close());

const pushesTo = (userId: string) => h.emulator.accepted().filter((a) => a.kind === "push" && a.to === userId).length;

describe("withdrawal stops push", () => {
  it("binds with an emulator-minted ID token, is pushed to, withdraws, and is not pushed to any more", async () => {
    const m = await h.member({ sim: { friend: false }, follow: true });
    const userId = m.userId!;
    const idToken = await h.emulator.mintIdToken(userId);
    const link = await request(h.t.app).post(`/api/v1/members/${m.memberId}/binding-links`).set(auth()).send();
    const bound = await request(h.t.app)
      .post("/liff-api/bindings")
      .set({ Authorization: `Bearer ${idToken}` })
      .send({ bindingToken: new URL(link.body.url).searchParams.get("token"), consent: CONSENT });
    expect(bound.status).toBe(201);

    const first = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    expect(first.body.route.channel).toBe("push");
    await h.run();
    expect(pushesTo(userId)).toBe(1);

    const del = await request(h.t.app)
      .delete("/liff-api/bindings")
      .set({ Authorization: `Bearer ${idToken}` });
    expect(del.status).toBe(204);
    const member = await request(h.t.app).get(`/api/v1/members/${m.memberId}`).set(auth());
    expect(member.body.lineUserId).toBeNull();

    const second = await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() });
    expect(second.status).toBe(202);
    expect(second.body.route.channel).not.toBe("push");
    await h.run();
    expect(pushesTo(userId)).toBe(1);
    const n = await h.get(second.body.id);
    expect(n.channel).not.toBe("push");
  });
});
