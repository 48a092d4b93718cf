import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { callbackStates, createDb, type Database, sql } from "@oa-notify/db";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, DATABASE_URL, type TestDb } from "../helpers/db.ts";
import { prerequisite } from "../helpers/prerequisites.ts";
import { builtServerEntry, freePort, type ServerProcess, startServerProcess } from "../helpers/process.ts";
import { startReceiver } from "../helpers/receiver.ts";

// A server process killed with SIGKILL and restarted on the same PostgreSQL (PGlite is one process's).
const hasPostgres = prerequisite("status callbacks across a SIGKILL", Boolean(DATABASE_URL), "no DATABASE_URL (a PostgreSQL server)");

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KEY = "crash-test-key-0123456789";
let db: TestDb;
let reader: Database;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const tries = new Map<string, number>();

beforeAll(async () => {
  if (!hasPostgres) return;
  db = await createTestDb();
  reader = await createDb({ url: db.url!, migrate: false, poolSize: 2 });
  // Every event's first try is refused (503) and its second dropped without an answer; the third is accepted.
  receiver = await startReceiver(({ headers }) => {
    const id = String(headers["webhook-id"]);
    const n = tries.get(id) ?? 0;
    tries.set(id, n + 1);
    return n === 0 ? 503 : n === 1 ? 0 : 200;
  });
});
afterAll(async () => {
  await receiver?.close();
  await reader?.close();
  await db?.close();
});

async function waitUntil(cond: () => Promise<boolean> | boolean, what: string, maxMs = 120_000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.skipIf(!hasPostgres)("status callbacks survive a SIGKILL of the server (PostgreSQL)", () => {
  it("every event is delivered, signed, in order per notification, after the server is killed mid-way and restarted", async () => {
    const env = {
      DATABASE_URL: db.url!,
      SANDBOX: "1",
      API_KEYS: KEY,
      LINE_CHANNEL_SECRET: "crash-secret",
      SANDBOX_LINE_PORT: String(await freePort()),
      STATUS_WEBHOOK_URL: receiver.url,
      STATUS_WEBHOOK_SECRET: SECRET,
      WEBHOOK_RETRY_BASE_SECONDS: "0.2",
      LOG_LEVEL: "warn",
    };
    const port = String(await freePort());
    const start = () => startServerProcess({ ...env, PORT: port }, builtServerEntry());
    let srv: ServerProcess = await start();
    const items = Array.from({ length: 40 }, (_, i) => ({
      phone: `09${randomInt(10, 90)}${String(randomInt(0, 1_000_000)).padStart(6, "0")}`,
      scenario: "shipping",
      urgency: "minutes",
      text: `出貨通知 #${i}`,
    }));
    const res = await fetch(`${srv.url}/api/v1/notifications/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ notifications: items }),
    });
    expect(res.status).toBe(202);
    const ok = () => receiver.received.filter((r) => r.answered === 200).length;
    await waitUntil(() => ok() >= 25, "some callbacks to be delivered");
    const exited = srv.exited;
    srv.child.kill("SIGKILL");
    await exited;
    const pending = async () =>
      Number((await reader.query<{ n: string }>(sql`select count(*) as n from webhook_deliveries where status <> 'delivered'`))[0]!.n);
    expect(await pending()).toBeGreaterThan(0); // really killed mid-way

    srv = await start();
    try {
      await waitUntil(
        async () =>
          (await pending()) === 0 &&
          Number(
            (await reader.query<{ n: string }>(sql`select count(*) as n from notifications where status in ('accepted', 'queued', 'fallback_sms', 'sent')`))[0]!
              .n,
          ) === 0,
        "every callback to be delivered after the restart",
      );
    } finally {
      const down = srv.exited;
      srv.child.kill("SIGTERM");
      await down;
    }

    // What the receiver accepted, deduplicated by webhook-id (a kill between its 200 and our record of it may send
    // an event again, always under the same id), against every notification's timeline.
    const wh = new Webhook(SECRET);
    const firstOk = new Map<string, { type: string; id: string }>();
    for (const r of receiver.received) {
      if (r.answered !== 200) continue;
      const id = String(r.headers["webhook-id"]);
      const payload = wh.verify(r.body.toString(), {
        "webhook-id": id,
        "webhook-timestamp": String(r.headers["webhook-timestamp"]),
        "webhook-signature": String(r.headers["webhook-signature"]),
      }) as { type: string; data: { id: string } };
      if (!firstOk.has(id)) firstOk.set(id, { type: payload.type, id: payload.data.id });
    }
    const events = await reader.query<{ notification_id: string; state: string }>(
      sql`select notification_id::text, state from notification_events order by notification_id, id`,
    );
    const want = new Map<string, string[]>();
    for (const e of events)
      if ((callbackStates as readonly string[]).includes(e.state))
        want.set(e.notification_id, [...(want.get(e.notification_id) ?? []), `notification.${e.state}`]);
    const got = new Map<string, string[]>();
    for (const v of firstOk.values()) got.set(v.id, [...(got.get(v.id) ?? []), v.type]);
    expect(want.size).toBeGreaterThanOrEqual(40);
    expect(got).toEqual(want);
    // One webhook-id per event: as many ids as outbox rows, all delivered.
    const [rows] = await reader.query<{ n: string }>(sql`select count(*) as n from webhook_deliveries where status = 'delivered'`);
    expect(firstOk.size).toBe(Number(rows!.n));
  });
});
