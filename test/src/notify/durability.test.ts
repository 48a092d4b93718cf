import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createDb, type Database, sql } from "@oa-notify/db";
import { createLineApi, createLogger } from "@oa-notify/server";
import { deliveryTagFor } from "@oa-notify/server/notify/channels/index.ts";
import { createNotifyWorker } from "@oa-notify/server/notify/worker.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth } from "../helpers/app.ts";
import { createTestDb, DATABASE_URL } from "../helpers/db.ts";
import { prerequisite } from "../helpers/prerequisites.ts";
import { ACCESS_TOKEN, type NotifyHarness, notifyHarness, randomPhone } from "./harness.ts";

// Several processes on one database need a real PostgreSQL (PGlite is in-process): skipped without DATABASE_URL,
// except under CI=true, where that fails.
const hasPostgres = prerequisite("durability tests (several processes on one database)", Boolean(DATABASE_URL), "no DATABASE_URL (a PostgreSQL server)");
const pg = describe.skipIf(!hasPostgres);

let h: NotifyHarness;
beforeAll(async () => {
  if (!hasPostgres) return;
  h = await notifyHarness({ db: await createTestDb() });
});
afterAll(async () => {
  if (!h) return;
  await h.close();
  await h.t.db.close();
});

/** n notifications: half to friends (push), half to non-friends by phone (PNP). Returns their ids. */
async function makeBatch(n: number): Promise<{ ids: string[]; friendIds: Set<string> }> {
  const items: unknown[] = [];
  const friends: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const m = await h.member({ bind: true, follow: false });
      friends.push(m.userId!);
      items.push({ memberId: m.memberId, scenario: "shipping", urgency: "day", text: `push #${i}` });
    } else {
      const p = randomPhone();
      h.emulator.createUser({ phone: p.local });
      items.push({ phone: p.local, scenario: "shipping", urgency: "day", text: `pnp #${i}` });
    }
  }
  // Friend state straight into line_users (the follow webhook path has its own tests): keeps set-up fast.
  const now = h.t.clock.now().toISOString();
  await h.t.db.query(sql`insert into line_users (user_id, friend, followed_at, state_event_at, state_source)
    select value, true, ${now}::timestamptz, ${now}::timestamptz, 'webhook' from json_array_elements_text(${JSON.stringify(friends)}::json)`);
  for (const u of friends) h.emulator.updateUser(u, { friend: true });
  const res = await request(h.t.app).post("/api/v1/notifications/batch").set(auth()).send({ notifications: items });
  expect(res.status).toBe(202);
  const ids = res.body.results.map((r: { id: string }) => r.id);
  const rows = await h.t.db.query<{ id: string }>(
    sql`select id from notifications where channel = 'push' and id in (select value::uuid from json_array_elements_text(${JSON.stringify(ids)}::json))`,
  );
  return { ids, friendIds: new Set(rows.map((r) => r.id)) };
}

async function pendingCount(ids: string[]): Promise<number> {
  const [r] = await h.t.db.query<{ n: string }>(sql`select count(*) as n from notifications
    where status in ('accepted', 'queued') and id in (select value::uuid from json_array_elements_text(${JSON.stringify(ids)}::json))`);
  return Number(r!.n);
}

async function waitUntil(cond: () => Promise<boolean>, what: string, maxMs = 45_000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Per notification: requests that reached the emulator and sends it accepted (push by retry key, PNP by tag). */
async function sendsPer(ids: string[]) {
  const keys = await h.t.db.query<{ id: string; retry_key: string | null }>(
    sql`select id, retry_key from notifications where id in (select value::uuid from json_array_elements_text(${JSON.stringify(ids)}::json))`,
  );
  const keyOf = new Map(keys.map((k) => [k.id, k.retry_key]));
  const accepted = h.emulator.accepted();
  const out = new Map<string, number>();
  for (const id of ids) out.set(id, 0);
  const byKey = new Map<string, string>();
  for (const [id, k] of keyOf) if (k) byKey.set(k, id);
  const byTag = new Map(ids.map((id) => [deliveryTagFor(id), id]));
  for (const a of accepted) {
    const id = (a.retryKey && byKey.get(a.retryKey)) || (a.deliveryTag && byTag.get(a.deliveryTag));
    if (id && out.has(id)) out.set(id, out.get(id)! + 1);
  }
  return out;
}

pg("several workers (PostgreSQL; skipped without DATABASE_URL)", () => {
  it("two workers with their own connection pools on one PostgreSQL never send a notification twice", async () => {
    const { ids } = await makeBatch(200);
    const second: Database = await createDb({ url: h.t.db.url!, migrate: false, poolSize: 5 });
    const line = createLineApi({ baseUrl: h.emulator.url, channelAccessToken: ACCESS_TOKEN });
    const w1 = createNotifyWorker(
      { db: h.t.db, line, sms: h.sms, clock: h.t.clock, logger: createLogger("silent"), config: h.t.config },
      { concurrency: 8, pollMs: 20 },
    );
    const w2 = createNotifyWorker(
      { db: second, line, sms: h.sms, clock: h.t.clock, logger: createLogger("silent"), config: h.t.config },
      { concurrency: 8, pollMs: 20 },
    );
    h.emulator.setFaults({ latencyMs: 5 });
    w1.start();
    w2.start();
    try {
      await waitUntil(async () => (await pendingCount(ids)) === 0, "both workers to drain the batch");
    } finally {
      await w1.stop();
      await w2.stop();
      h.emulator.clearFaults();
      await second.close();
    }
    const sum = (c: typeof w1.counts) => c.push + c.pnp + c.pnp_template;
    expect(sum(w1.counts)).toBeGreaterThan(0);
    expect(sum(w2.counts)).toBeGreaterThan(0); // both really shared the work
    const per = await sendsPer(ids);
    expect([...per.values()].every((n) => n === 1)).toBe(true);
    expect(sum(w1.counts) + sum(w2.counts)).toBe(200);
  });
});

pg("crash and restart (PostgreSQL; skipped without DATABASE_URL)", () => {
  const script = fileURLToPath(new URL("./fixtures/worker-child.ts", import.meta.url));
  const startChild = (): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        env: {
          ...process.env,
          DATABASE_URL: h.t.db.url!,
          LINE_API_BASE_URL: h.emulator.url,
          LINE_CHANNEL_ACCESS_TOKEN: ACCESS_TOKEN,
          LEASE_SECONDS: "2",
          RATE: "150",
          CONCURRENCY: "16",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve(child));
      child.on("exit", (code) => reject(new Error(`worker child exited (${code}) before ready: ${err}`)));
    });

  it("a worker killed with SIGKILL mid-batch, then restarted: nothing lost, nothing sent twice", async () => {
    const { ids, friendIds } = await makeBatch(300);
    h.emulator.setFaults({ latencyMs: 15 }); // keeps calls in flight when the kill lands
    const acceptedBefore = h.emulator.accepted().length;
    const first = await startChild();
    await waitUntil(async () => h.emulator.accepted().length - acceptedBefore >= 80, "the first worker to be mid-batch");
    const exited = new Promise((r) => first.once("exit", r));
    first.kill("SIGKILL");
    await exited;
    const pendingAtKill = await pendingCount(ids);
    expect(pendingAtKill).toBeGreaterThan(0); // really killed mid-batch
    const second = await startChild();
    try {
      await waitUntil(async () => (await pendingCount(ids)) === 0, "the restarted worker to finish");
    } finally {
      const exited2 = new Promise((r) => second.once("exit", r));
      second.kill("SIGTERM");
      await exited2;
      h.emulator.clearFaults();
    }
    const per = await sendsPer(ids);
    if (process.env["NOTIFY_TEST_DEBUG"])
      console.log({
        pendingAtKill,
        zero: [...per.values()].filter((n) => n === 0).length,
        conflicts: h.emulator.requests().filter((r) => r.status === 409).length,
      });
    // Nothing twice, ever.
    expect(Math.max(...per.values())).toBe(1);
    // Push: the retry key makes a resend after the crash safe, so every push went out exactly once.
    for (const id of friendIds) expect(per.get(id)).toBe(1);
    // PNP: either accepted once, or its call was cut by the kill and it is kept as ambiguous (never resent; the
    // delivery event or the SMS deadline settles it), which the timeline says.
    const rows = await h.t.db.query<{ id: string; status: string }>(
      sql`select id, status from notifications where id in (select value::uuid from json_array_elements_text(${JSON.stringify(ids)}::json))`,
    );
    for (const r of rows) {
      expect(["delivered", "sent"]).toContain(r.status);
      if (per.get(r.id) === 0) {
        const ev = await h.t.db.query<{ detail: { ambiguous?: boolean } }>(
          sql`select detail from notification_events where notification_id = ${r.id} and state = 'sent'`,
        );
        expect(ev[0]?.detail.ambiguous).toBe(true);
      }
    }
    expect(rows).toHaveLength(300);
  });
});
