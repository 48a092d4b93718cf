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
/** The response body as raw bytes (supertest would decode it). */
const bytes = (req: request.Test) =>
  req.buffer(true).parse((res, cb) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => cb(null, Buffer.concat(chunks)));
  });

describe("GET /api/v1/notifications/export (CSV)", () => {
  it("streams every notification of the range as UTF-8 CSV with a BOM, phone masked to its last 3 digits, oldest first", async () => {
    const phones: string[] = [];
    await request(t.app).put("/api/v1/members/-formula@x").set(auth()).send({ phone: phone() });
    // 2,500 notices over two Taipei days (more than one read page), one for a member whose id starts like a formula.
    const make = (n: number, extra: Record<string, unknown> = {}) =>
      Array.from({ length: n }, (_, i) => {
        const p = phone();
        phones.push(p);
        return { phone: p, scenario: "billing", urgency: "day", text: `帳單 #${i}`, ...extra };
      });
    expect(
      (
        await request(t.app)
          .post("/api/v1/notifications/batch")
          .set(auth())
          .send({ notifications: make(2500) })
      ).status,
    ).toBe(202);
    t.clock.advance(24 * 3600_000); // 2026-11-27 in Taipei
    const next: Record<string, unknown>[] = make(3);
    next[0] = { ...next[0]!, memberId: "-formula@x" };
    expect((await request(t.app).post("/api/v1/notifications/batch").set(auth()).send({ notifications: next })).status).toBe(202);

    const res = await bytes(request(t.app).get("/api/v1/notifications/export?from=2026-11-26&to=2026-11-27&format=csv&scenario=billing").set(auth()));
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(res.headers["content-disposition"]).toBe('attachment; filename="notifications-2026-11-26-2026-11-27.csv"');
    const body = res.body as Buffer;
    expect([...body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = body.subarray(3).toString("utf8").split("\r\n");
    expect(lines.pop()).toBe("");
    expect(lines[0]).toBe("id,created_at,status,channel,scenario,urgency,member_id,phone,batch_id,send_at,sent_at,delivered_at,sms_sent_at,cost_twd");
    expect(lines).toHaveLength(1 + 2503);
    const rows = lines.slice(1).map((l) => l.split(","));
    expect(new Set(rows.map((r) => r[0])).size).toBe(2503);
    const created = rows.map((r) => Date.parse(r[1]!));
    expect(created).toEqual([...created].sort((a, b) => a - b));
    // No full number anywhere: each phone appears only as its last three digits.
    const text = lines.join("\n");
    for (const p of phones) expect(text).not.toContain(p.slice(1));
    expect(new Set(rows.map((r) => r[7]))).toEqual(new Set(phones.map((p) => `*****${p.slice(-3)}`)));
    expect(rows.find((r) => r[6]?.includes("formula"))![6]).toBe("'-formula@x");
    expect(rows[0]!.slice(2, 6)).toEqual(["accepted", "pnp", "billing", "day"]);

    // The first Taipei day only.
    const day = await bytes(request(t.app).get("/api/v1/notifications/export?from=2026-11-26&to=2026-11-26&scenario=billing").set(auth()));
    expect((day.body as Buffer).toString("utf8").split("\r\n").length - 2).toBe(2500);
    expect((await request(t.app).get("/api/v1/notifications/export?format=xlsx").set(auth())).status).toBe(400);
    expect((await request(t.app).get("/api/v1/notifications/export").set({})).status).toBe(401);
  });
});
