import { randomInt } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, type TestContext } from "../helpers/app.ts";

let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t?.close());

const phone = () => `09${randomInt(10, 90)}${String(randomInt(0, 1_000_000)).padStart(6, "0")}`;
const item = (i: number, extra: Record<string, unknown> = {}) => ({ phone: phone(), scenario: "shipping", urgency: "day", text: `出貨 #${i}`, ...extra });
const list = (q: string) => request(t.app).get(`/api/v1/notifications?${q}`).set(auth());

describe("GET /api/v1/notifications (filters, keyset pages)", () => {
  it("pages 10,000 notifications while new ones arrive: each original exactly once, no gaps", async () => {
    const batch = await request(t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .send({ notifications: Array.from({ length: 10_000 }, (_, i) => item(i, { scenario: "points" })) });
    expect(batch.status).toBe(202);
    expect(batch.body.accepted).toBe(10_000);
    const originals = new Set<string>(batch.body.results.map((r: { id: string }) => r.id));

    // New notifications keep arriving while the client pages: some at the same instant as the originals (the
    // hardest case for a cursor), some later.
    let arriving = true;
    const arrivals: string[] = [];
    const inserter = (async () => {
      for (let i = 0; arriving; i++) {
        if (i % 2 === 0) t.clock.advance(1);
        const r = await request(t.app)
          .post("/api/v1/notifications")
          .set(auth())
          .send(item(i, { scenario: "points" }));
        arrivals.push(r.body.id);
      }
    })();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(`scenario=points&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.notifications.map((n: { id: string }) => n.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    arriving = false;
    await inserter;

    expect(arrivals.length).toBeGreaterThan(0);
    const fromOriginals = seen.filter((id) => originals.has(id));
    expect(fromOriginals.length).toBe(10_000);
    expect(new Set(fromOriginals).size).toBe(10_000);
    expect(new Set(seen).size).toBe(seen.length); // nothing twice, arrivals included
  });

  it("filters by batch, status, channel, scenario, member, phone and Asia/Taipei days, and counts a batch by status", async () => {
    const p = phone();
    await request(t.app).put("/api/v1/members/list-m1").set(auth()).send({ phone: p });
    const b = await request(t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .send({
        notifications: [item(1, { scenario: "billing" }), item(2, { scenario: "billing" }), item(3, { scenario: "billing", memberId: "list-m1", phone: p })],
      });
    expect(b.status).toBe(202);
    const [a1, a2, a3] = b.body.results.map((r: { id: string }) => r.id) as string[];
    expect((await request(t.app).post(`/api/v1/notifications/${a1}/cancel`).set(auth()).send()).status).toBe(200);

    const ids = async (q: string) => {
      const res = await list(q);
      expect(res.status).toBe(200);
      return (res.body.notifications as { id: string }[]).map((n) => n.id).sort();
    };
    expect(await ids(`batchId=${b.body.batchId}`)).toEqual([a1, a2, a3].sort());
    expect(await ids(`batchId=${b.body.batchId}&status=cancelled`)).toEqual([a1]);
    expect(await ids(`batchId=${b.body.batchId}&status=accepted&channel=pnp`)).toEqual([a2, a3].sort());
    expect(await ids(`batchId=${b.body.batchId}&channel=sms`)).toEqual([]);
    expect(await ids("memberId=list-m1")).toEqual([a3]);
    expect(await ids(`phone=${encodeURIComponent(`+886${p.slice(1)}`)}&scenario=billing`)).toEqual([a3]);
    const one = (await list(`memberId=list-m1`)).body;
    expect(one.memberId).toBe("list-m1");
    expect(one.notifications[0]).toMatchObject({ id: a3, status: "accepted", channel: "pnp", scenario: "billing", batchId: b.body.batchId });
    expect(one.notifications[0].phone).toBe(`+886*****${p.slice(-3)}`);

    // The test clock is 2026-11-26T02:00Z = 10:00 in Taipei: that Taipei day holds them, the UTC day before does not.
    expect(await ids(`batchId=${b.body.batchId}&from=2026-11-26&to=2026-11-26`)).toHaveLength(3);
    expect(await ids(`batchId=${b.body.batchId}&to=2026-11-25`)).toHaveLength(0);
    expect(await ids(`batchId=${b.body.batchId}&from=2026-11-27`)).toHaveLength(0);
    expect(await ids(`batchId=${b.body.batchId}&from=2026-11-26T01:59:59Z&to=2026-11-26T02:00:00Z`)).toHaveLength(0);

    const summary = await request(t.app).get(`/api/v1/batches/${b.body.batchId}`).set(auth());
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({ batchId: b.body.batchId, total: 3, pending: 2, done: 1 });
    expect(summary.body.byStatus).toMatchObject({ accepted: 2, cancelled: 1, delivered: 0 });
    expect((await request(t.app).get("/api/v1/batches/00000000-0000-4000-8000-000000000000").set(auth())).status).toBe(404);

    const forged = (ts: string) => `cursor=${Buffer.from(JSON.stringify([ts, "00000000-0000-4000-8000-000000000000"])).toString("base64url")}`;
    for (const bad of [
      "status=nope",
      "cursor=garbage",
      forged("2026-02-31 00:00:00+00"),
      forged("+275760-09-13T00:00:00Z"),
      "phone=123",
      "from=2026-11-27&to=2026-11-26",
      "limit=0",
      "other=1",
    ]) {
      const res = await list(bad);
      expect(res.status, bad).toBe(400);
    }
  });
});
