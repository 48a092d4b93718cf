// Finding 3 (docs/threat-model.md): a signed event the database cannot take as sent (year 10000, U+0000 or an
// unpaired surrogate in a string, deep nesting) must not cost any other request its events. Events are made
// storable where that keeps their meaning, refused with 400 where it cannot; and if the database still refuses a
// group, only the request that carried the bad event fails.
import type { Server } from "node:http";
import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, listen, sign, type TestContext } from "../helpers/app.ts";
import { followEvent, lineUserId, textMessageEvent, ulidLike, webhookBody } from "../helpers/events.ts";

let t: TestContext;
let server: Server;
beforeAll(async () => {
  t = await buildTestApp();
  server = await listen(t.app);
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await t.close();
});

const post = (body: string) => request(server).post("/webhook").set("x-line-signature", sign(body)).set("content-type", "application/json").send(body);
const stored = async (ids: string[]) =>
  Number(
    (
      await t.db.query<{ n: string }>(
        sql`select count(*) as n from webhook_events where webhook_event_id in (select value from json_array_elements_text(${JSON.stringify(ids)}::json))`,
      )
    )[0]!.n,
  );
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

/** 59 valid signed bodies and one hostile one, all at once; returns the valid events' ids and every status. */
async function burst(hostile: string) {
  const valid = Array.from({ length: 59 }, () => followEvent(lineUserId()));
  const bodies = valid.map((e) => webhookBody([e]));
  bodies.splice(30, 0, hostile);
  const res = await Promise.all(bodies.map((b) => post(b)));
  return { ids: valid.map((e) => e.webhookEventId), statuses: res.map((r) => r.status), hostileStatus: res[30]!.status };
}

describe("one unstorable event among 59 valid concurrent bodies", () => {
  const hostile: [string, (id: string) => string, number][] = [
    ["timestamp in year 10000", (id) => webhookBody([{ ...followEvent(lineUserId()), webhookEventId: id, timestamp: 253402300800000 }]), 200],
    [
      "U+0000 in a message text",
      (id) => webhookBody([{ ...textMessageEvent(lineUserId(), "x"), webhookEventId: id }]).replace('"text":"x"', '"text":"a\\u0000b"'),
      200,
    ],
    [
      "an unpaired surrogate in a message text",
      (id) => webhookBody([{ ...textMessageEvent(lineUserId(), "x"), webhookEventId: id }]).replace('"text":"x"', '"text":"a\\ud800b"'),
      200,
    ],
    [
      "10,000 levels of nesting",
      (id) => webhookBody([{ ...followEvent(lineUserId()), webhookEventId: id }]).replace('"mode":"active"', `"mode":"active","deep":${nested(10_000)}`),
      400,
    ],
    ["U+0000 in the type and the event id", () => webhookBody([{ ...followEvent(lineUserId()), webhookEventId: "id\u0000x", type: "fol\u0000low" }]), 200],
  ];
  for (const [name, make, expected] of hostile) {
    it(`${name}: every valid event stored, the hostile one ${expected === 200 ? "stored" : "refused with 400"}`, async () => {
      const hostileId = ulidLike();
      const { ids, statuses, hostileStatus } = await burst(make(hostileId));
      expect(hostileStatus).toBe(expected);
      expect(statuses.filter((s, i) => i !== 30 && s !== 200)).toEqual([]);
      expect(await stored(ids)).toBe(59);
      if (expected === 200 && !name.includes("type")) expect(await stored([hostileId])).toBe(1);
      if (expected === 400) expect(await stored([hostileId])).toBe(0);
    });
  }

  it("the year-10000 event is processed at its receive time; U+0000 is kept as U+FFFD", async () => {
    const user = lineUserId();
    const id = ulidLike();
    const res = await post(webhookBody([{ ...followEvent(user), webhookEventId: id, timestamp: 253402300800000 }]));
    expect(res.status).toBe(200);
    await t.app.services.processor.kick();
    await t.app.services.processor.drain();
    const [row] = await t.db.query<{ event_timestamp: unknown; processed_at: unknown; last_error: string | null }>(
      sql`select event_timestamp, processed_at, last_error from webhook_events where webhook_event_id = ${id}`,
    );
    expect(row).toMatchObject({ event_timestamp: null, last_error: null });
    expect(row!.processed_at).not.toBeNull();
    const [u] = await t.db.query<{ friend: boolean }>(sql`select friend from line_users where user_id = ${user}`);
    expect(u!.friend).toBe(true);

    const nid = ulidLike();
    expect(
      (await post(webhookBody([{ ...textMessageEvent(lineUserId(), "x"), webhookEventId: nid }]).replace('"text":"x"', '"text":"a\\u0000b"'))).status,
    ).toBe(200);
    const [m] = await t.db.query<{ text: string }>(sql`select event->'message'->>'text' as text from webhook_events where webhook_event_id = ${nid}`);
    expect(m!.text).toBe("a\uFFFDb");
  });

  it("when the database refuses one request's events, only that request fails", async () => {
    // A refusal we cannot foresee, made real: a constraint this one event breaks.
    await t.db.query(sql`alter table webhook_events add constraint no_poison check (event->>'poison' is null)`);
    try {
      const { ids, statuses, hostileStatus } = await burst(webhookBody([{ ...followEvent(lineUserId()), poison: 1 }]));
      expect(hostileStatus).toBe(503);
      expect(statuses.filter((s, i) => i !== 30 && s !== 200)).toEqual([]);
      expect(await stored(ids)).toBe(59);
    } finally {
      await t.db.query(sql`alter table webhook_events drop constraint no_poison`);
    }
  });
});

describe("event types", () => {
  it("a 5,000-character type and `constructor` are stored, ignored, and never a metric label", async () => {
    const long = "x".repeat(5000);
    const ids = [ulidLike(), ulidLike(), ulidLike()];
    const body = webhookBody([
      { ...followEvent(lineUserId()), webhookEventId: ids[0], type: long },
      { ...followEvent(lineUserId()), webhookEventId: ids[1], type: "constructor" },
      { ...followEvent(lineUserId()), webhookEventId: ids[2], type: "__proto__" },
    ]);
    expect((await post(body)).status).toBe(200);
    await t.app.services.processor.kick();
    await t.app.services.processor.drain();
    const rows = await t.db.query<{ type: string; processed_at: unknown; last_error: string | null }>(
      sql`select type, processed_at, last_error from webhook_events where webhook_event_id in (${ids[0]}, ${ids[1]}, ${ids[2]}) order by id`,
    );
    expect(rows.map((r) => r.type.length)).toEqual([64, 11, 9]);
    for (const r of rows) expect(r).toMatchObject({ last_error: null });
    for (const r of rows) expect(r.processed_at).not.toBeNull();
    const metrics = await t.app.services.metrics.registry.metrics();
    expect(metrics).not.toContain("xxxxxxxxxx");
    expect(metrics).not.toContain('type="constructor"');
    expect(metrics).toContain('webhook_events_total{type="other",result="received"}');
    expect(metrics).toContain('webhook_events_processed_total{type="other",outcome="ignored"}');
  });
});
