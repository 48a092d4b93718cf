import { sql } from "@oa-notify/db";
import { defaultHandlers } from "@oa-notify/server/webhook/handlers.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, sign, type TestContext } from "./helpers/app.ts";
import { createTestDb, type TestDb } from "./helpers/db.ts";
import { followEvent, lineUserId, postbackEvent, textMessageEvent, unfollowEvent, webhookBody } from "./helpers/events.ts";

/**
 * The webhook processor applies friend and message events set-wise, a batch at a time. This proves it ends in the
 * very state the one-event-at-a-time handlers reach, on random histories full of ties, stale events and
 * redeliveries, against users that already have a state and pending add-friend prompts.
 */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let bulk: TestContext;
let single: TestDb;
beforeAll(async () => {
  bulk = await buildTestApp();
  single = await createTestDb();
});
afterAll(async () => {
  await bulk.close();
  await single.close();
});

const snapshot = async (db: TestDb, users: string[]) => ({
  users: await db.query(sql`select user_id, friend, is_unblocked, followed_at, unfollowed_at, state_event_at, state_source, last_message_at
    from line_users where user_id = any(${`{${users.join(",")}}`}::text[]) order by user_id`),
  prompts: await db.query(sql`select line_user_id, prompted_at, converted_at from friend_prompts
    where line_user_id = any(${`{${users.join(",")}}`}::text[]) order by line_user_id, prompted_at`),
});

async function runSingle(db: TestDb, events: Record<string, any>[]) {
  for (const event of events) {
    const handler = defaultHandlers[event["type"] as string]!;
    await db.db.transaction((tx) => handler({ tx, event, at: new Date(event["timestamp"] as number) }));
  }
}

describe("set-wise processing equals one-by-one processing", () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])("random history, seed %i", async (seed) => {
    const r = rng(seed);
    const users = Array.from({ length: 5 }, lineUserId);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
    const ts = () => 1_000_000 + Math.floor(r() * 20) * 1000; // few distinct values: many ties

    // The same starting point in both databases: some users with a state, some prompts waiting.
    const initial = users
      .slice(0, 3)
      .map((u) => (r() < 0.5 ? followEvent(u, { timestamp: ts(), isUnblocked: r() < 0.5 }) : unfollowEvent(u, { timestamp: ts() })));
    for (const db of [bulk.db, single]) {
      await runSingle(db, initial);
      for (const u of users)
        if (r() < 0.6) await db.query(sql`insert into friend_prompts (line_user_id, prompted_at) values (${u}, ${new Date(ts()).toISOString()}::timestamptz)`);
    }
    // Keep both databases' prompts identical (the rng advanced differently per loop above).
    await bulk.db.query(sql`delete from friend_prompts where line_user_id = any(${`{${users.join(",")}}`}::text[])`);
    await single.query(sql`delete from friend_prompts where line_user_id = any(${`{${users.join(",")}}`}::text[])`);
    const prompts = users.filter(() => r() < 0.6).map((u) => ({ u, at: new Date(ts()).toISOString() }));
    for (const db of [bulk.db, single])
      for (const p of prompts) await db.query(sql`insert into friend_prompts (line_user_id, prompted_at) values (${p.u}, ${p.at}::timestamptz)`);

    const events = Array.from({ length: 40 }, () => {
      const u = pick(users);
      const kind = r();
      if (kind < 0.4) return r() < 0.3 ? followEvent(u, { timestamp: ts() }) : followEvent(u, { timestamp: ts(), isUnblocked: r() < 0.5 });
      if (kind < 0.75) return unfollowEvent(u, { timestamp: ts() });
      if (kind < 0.9) return textMessageEvent(u, "hi", { timestamp: ts() });
      return postbackEvent(u, "a=1", { timestamp: ts() });
    });
    // Some events without isUnblocked at all, as older payloads may have.
    for (const e of events) if (e.type === "follow" && r() < 0.2) delete (e as { follow?: unknown }).follow;

    const fallbacksBefore = await fallbacks();
    const body = webhookBody(events);
    expect((await request(bulk.app).post("/webhook").set("content-type", "application/json").set("x-line-signature", sign(body)).send(body)).status).toBe(200);
    await bulk.app.services.processor.kick();
    await runSingle(single, events);

    const processed = await bulk.db.query<{ n: number }>(sql`select count(*)::int as n from webhook_events
      where webhook_event_id = any(${`{${events.map((e) => e.webhookEventId).join(",")}}`}::text[]) and processed_at is not null and last_error is null`);
    expect(processed[0]!.n).toBe(events.length);
    // The set-wise path itself did the work: a throw there would have been redone one by one (and still pass).
    expect(await fallbacks()).toBe(fallbacksBefore);
    expect(await snapshot(bulk.db, users)).toEqual(await snapshot(single, users));
  });

  it("a poison event makes the batch fall back to one savepoint per event: counted, and the others still applied", async () => {
    const u = lineUserId();
    const before = await fallbacks();
    // A follow whose source.userId is not a LINE user id: the set-wise path leaves it to its handler, which throws.
    const poison = { ...followEvent(lineUserId(), { timestamp: 2_000_000 }), source: { type: "user", userId: "Unot-a-user-id" } };
    const good = followEvent(u, { timestamp: 2_000_001 });
    const body = webhookBody([poison, good]);
    expect((await request(bulk.app).post("/webhook").set("content-type", "application/json").set("x-line-signature", sign(body)).send(body)).status).toBe(200);
    await bulk.app.services.processor.kick();
    expect(await fallbacks()).toBe(before + 1);
    const rows = await bulk.db.query<{ friend: boolean }>(sql`select friend from line_users where user_id = ${u}`);
    expect(rows[0]?.friend).toBe(true);
  });
});

async function fallbacks(): Promise<number> {
  const m = await bulk.app.services.metrics.registry.getSingleMetricAsString("webhook_batch_fallbacks_total");
  return Number(/^webhook_batch_fallbacks_total (\d+)/m.exec(m)?.[1] ?? 0);
}
