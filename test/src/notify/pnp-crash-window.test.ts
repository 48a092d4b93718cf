// Finding 8 (docs/states.md, "crash window"): a PNP's sent-marker is committed while its request is on the wire but
// for the last byte, so only a request that may really have reached LINE can be left ambiguous by a crash; and the
// opt-in at-least-once policy calls an ambiguous PNP once more when no delivery event came.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "@oa-notify/db";
import { createLineApi, createLogger } from "@oa-notify/server";
import { deliveryTagFor } from "@oa-notify/server/notify/channels/index.ts";
import { createNotifyWorker } from "@oa-notify/server/notify/worker.ts";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, DATABASE_URL } from "../helpers/db.ts";
import { HOUR, type NotifyHarness, notifyHarness, text } from "./harness.ts";

describe("at-least-once PNP (PNP_RESEND_AFTER_SECONDS)", () => {
  let h: NotifyHarness;
  beforeAll(async () => {
    h = await notifyHarness({ workerOptions: { pnpResendAfterSeconds: 3600 } });
  });
  afterAll(async () => h?.close());
  const tagCalls = (id: string) => h.emulator.requests().filter((r) => r.deliveryTag === deliveryTagFor(id));

  it("an ambiguous PNP with no delivery event is called once more after the grace, and only once", async () => {
    const m = await h.member();
    // The connection drops before LINE answers: ambiguous (it never reached the emulator's accept).
    h.emulator.setFaults({ dropConnection: { endpoint: "pnp", count: 1 } });
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "days", ...text("本月帳單已出") });
    await h.run();
    h.emulator.clearFaults();
    let n = await h.get(res.body.id);
    expect(n.status).toBe("sent");
    expect(n.timeline.at(-1).detail).toMatchObject({ ambiguous: true, resendAt: "2026-11-26T03:00:00.000Z" });
    h.t.clock.advance(HOUR - 60_000);
    await h.run();
    expect(tagCalls(res.body.id)).toHaveLength(1); // not before the grace
    h.t.clock.advance(60_000);
    // The resend is dropped too: ambiguous again, and no third call ever.
    h.emulator.setFaults({ dropConnection: { endpoint: "pnp", count: 1 } });
    await h.run();
    h.emulator.clearFaults();
    n = await h.get(res.body.id);
    expect(n.timeline.map((e: { state: string }) => e.state)).toEqual(["accepted", "queued", "sent", "pnp_resend", "sent"]);
    expect(n.status).toBe("sent");
    expect(n.timeline.at(-1).detail.resendAt).toBeUndefined();
    h.t.clock.advance(2 * HOUR);
    await h.run();
    expect(tagCalls(res.body.id)).toHaveLength(2);
    h.t.clock.advance(24 * HOUR);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("undelivered");
    expect(tagCalls(res.body.id)).toHaveLength(2);
  });

  it("a delivery event inside the grace settles it: no resend", async () => {
    const m = await h.member();
    h.emulator.setFaults({ dropConnection: { endpoint: "pnp", count: 1, afterAccept: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "days", ...text() });
    await h.run();
    h.emulator.clearFaults();
    expect((await h.get(res.body.id)).timeline.at(-1).detail.ambiguous).toBe(true);
    await h.deliveries();
    h.t.clock.advance(2 * HOUR);
    await h.run();
    expect((await h.get(res.body.id)).status).toBe("delivered");
    expect(tagCalls(res.body.id)).toHaveLength(1);
  });

  it("a PNP LINE accepted is never resent, delivery event or not", async () => {
    const m = await h.member({ sim: { blocked: true } });
    const res = await h.post({ memberId: m.memberId, scenario: "billing", urgency: "days", ...text() });
    await h.run();
    h.t.clock.advance(3 * HOUR);
    await h.run();
    expect(tagCalls(res.body.id)).toHaveLength(1);
    expect((await h.get(res.body.id)).status).toBe("sent");
  });
});

// The order of events on the wire, observed from "LINE" (a loopback recorder), with the marker's commit held back by
// a row lock from another connection: PostgreSQL only (PGlite has one connection).
describe.skipIf(!DATABASE_URL)("the PNP sent-marker is committed while the request is on the wire (PostgreSQL)", () => {
  let h: NotifyHarness;
  let recorder: Server;
  const seen = new Map<string, { started: number; bytes: number; length: number; complete: number }>();
  beforeAll(async () => {
    if (!DATABASE_URL) return;
    h = await notifyHarness({ db: await createTestDb() });
    recorder = createServer((req, res) => {
      const tag = String(req.headers["x-line-delivery-tag"] ?? "");
      const s = { started: Date.now(), bytes: 0, length: Number(req.headers["content-length"]), complete: 0 };
      seen.set(tag, s);
      req.on("data", (c: Buffer) => (s.bytes += c.length));
      req.on("end", () => {
        s.complete++;
        res.writeHead(200, { "content-type": "application/json", "x-line-request-id": "rec-1" }).end("{}");
      });
    });
    await new Promise<void>((r) => recorder.listen(0, "127.0.0.1", () => r()));
  });
  afterAll(async () => {
    if (!h) return;
    await new Promise<void>((r) => recorder.close(() => r()));
    await h.close();
    await h.t.db.close();
  });

  it("LINE holds an incomplete request until the marker commits; a crash before that leaves no marker", async () => {
    const res = await h.post({ phone: "0912777001", scenario: "billing", urgency: "days", ...text() });
    const id = res.body.id as string;
    const line = createLineApi({ baseUrl: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`, channelAccessToken: "test-access-token" });
    const worker = createNotifyWorker({ db: h.t.db, line, sms: h.sms, clock: h.t.clock, logger: createLogger("silent"), config: h.t.config });
    const [row] = (await worker.claim(50)).filter((r) => r.id === id);
    expect(row).toBeDefined();
    const locker = new pg.Client({ connectionString: h.t.db.url! });
    await locker.connect();
    await locker.query("begin");
    await locker.query("select 1 from notifications where id = $1 for update", [id]);
    const processing = worker.process(row!);
    try {
      const tag = deliveryTagFor(id);
      for (let i = 0; i < 100 && !(seen.get(tag)?.bytes ?? 0); i++) await new Promise((r) => setTimeout(r, 50));
      const s = seen.get(tag);
      expect(s).toBeDefined(); // the request started before its marker could commit
      expect(s!.bytes).toBe(s!.length - 1); // all but the last byte
      expect(s!.complete).toBe(0);
      const [now] = await h.t.db.query<{ marker: unknown; status: string }>(
        sql`select pnp_call_started_at as marker, status from notifications where id = ${id}`,
      );
      expect(now).toEqual({ marker: null, status: "accepted" }); // a crash now: nothing marked, nothing sent
    } finally {
      await locker.query("rollback");
      await locker.end();
    }
    await processing;
    const s = seen.get(deliveryTagFor(id))!;
    expect(s.complete).toBe(1);
    expect(s.bytes).toBe(s.length);
    const [after] = await h.t.db.query<{ marker: unknown; status: string }>(
      sql`select pnp_call_started_at as marker, status from notifications where id = ${id}`,
    );
    expect(after!.status).toBe("sent");
    expect(after!.marker).not.toBeNull();
  });
});
