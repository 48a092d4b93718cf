import { validateSignature } from "@line/bot-sdk";
import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, sign, type TestContext } from "./helpers/app.ts";
import { deliveryEvent, followEvent, lineUserId, postbackEvent, textMessageEvent, unfollowEvent, webhookBody } from "./helpers/events.ts";

let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const post = (body: string, signature: string | null = sign(body)) => {
  const r = request(t.app).post("/webhook").set("content-type", "application/json");
  if (signature !== null) r.set("x-line-signature", signature);
  return r.send(body);
};
const inboxCount = async (eventId: string) =>
  Number((await t.db.query<{ n: string }>(sql`select count(*) as n from webhook_events where webhook_event_id = ${eventId}`))[0]!.n);
const friendOf = async (userId: string) => (await request(t.app).get(`/api/v1/line-users/${userId}`).set(auth())).body;

describe("signature", () => {
  it("matches LINE's documented vector (Messaging API: signature validation)", () => {
    const body = '{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}';
    expect(sign(body, "8c570fa6dd201bb328f1c1eac23a96d8")).toBe("GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=");
  });

  it("accepts LINE's documented vector through the route", async () => {
    const vt = await buildTestApp({ env: { LINE_CHANNEL_SECRET: "8c570fa6dd201bb328f1c1eac23a96d8" }, db: t.db });
    const body = '{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}';
    const res = await request(vt.app)
      .post("/webhook")
      .set("x-line-signature", "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=")
      .set("content-type", "application/json")
      .send(body);
    expect(res.status).toBe(200);
  });

  it("rejects a forged signature with 401 and stores nothing", async () => {
    const e = followEvent(lineUserId());
    const body = webhookBody([e]);
    const res = await post(body, sign(body, "not-the-secret"));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("invalid_signature");
    expect(await inboxCount(e.webhookEventId)).toBe(0);
  });

  it("rejects a missing signature with 401 and stores nothing", async () => {
    const e = followEvent(lineUserId());
    const res = await post(webhookBody([e]), null);
    expect(res.status).toBe(401);
    expect(await inboxCount(e.webhookEventId)).toBe(0);
  });

  it("rejects a body changed after signing (one byte) with 401", async () => {
    const e = followEvent(lineUserId());
    const body = webhookBody([e]);
    const res = await post(body.replace("follow", "folloW"), sign(body));
    expect(res.status).toBe(401);
    expect(await inboxCount(e.webhookEventId)).toBe(0);
  });

  it("answers 400 for signed bad JSON and stores nothing", async () => {
    const before = Number((await t.db.query<{ n: string }>(sql`select count(*) as n from webhook_events`))[0]!.n);
    const res = await post('{"destination":"U1","events":[{"type":');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("bad_request");
    const signedWrongShape = await post('{"destination":"U1","events":"nope"}');
    expect(signedWrongShape.status).toBe(400);
    const after = Number((await t.db.query<{ n: string }>(sql`select count(*) as n from webhook_events`))[0]!.n);
    expect(after).toBe(before);
  });

  it("answers 200 to the console's empty verify request", async () => {
    const res = await post(webhookBody([]));
    expect(res.status).toBe(200);
  });
});

describe("storage and dedupe", () => {
  it("stores an event once across duplicates and redeliveries", async () => {
    const u = lineUserId();
    const e = followEvent(u);
    expect((await post(webhookBody([e]))).status).toBe(200);
    expect((await post(webhookBody([e]))).status).toBe(200);
    expect((await post(webhookBody([{ ...e, deliveryContext: { isRedelivery: true } }]))).status).toBe(200);
    // The same event twice inside one body, and concurrent posts of it.
    await Promise.all([post(webhookBody([e, e])), post(webhookBody([e]))]);
    expect(await inboxCount(e.webhookEventId)).toBe(1);
    await t.app.services.processor.kick();
    expect((await friendOf(u)).friend).toBe(true);
  });

  it("has every event durable by the time the 200 is sent", async () => {
    const events = Array.from({ length: 20 }, () => followEvent(lineUserId()));
    const res = await post(webhookBody(events));
    expect(res.status).toBe(200);
    // Read right after the 200, before any processing could matter: the rows exist.
    for (const e of events) expect(await inboxCount(e.webhookEventId)).toBe(1);
  });

  it("keeps message and postback events from non-friends without making them friends", async () => {
    const u = lineUserId();
    const m = textMessageEvent(u, "hello");
    const p = postbackEvent(u, "action=track");
    await post(webhookBody([m, p]));
    await t.app.services.processor.kick();
    expect(await inboxCount(m.webhookEventId)).toBe(1);
    expect(await inboxCount(p.webhookEventId)).toBe(1);
    const user = await friendOf(u);
    expect(user.friend).toBe(false);
  });

  it("stores unknown event types and ignores them", async () => {
    const e = {
      type: "somethingNew",
      mode: "active",
      timestamp: Date.now(),
      webhookEventId: "01UNKNOWNTYPE00000000000001",
      deliveryContext: { isRedelivery: false },
    };
    expect((await post(webhookBody([e]))).status).toBe(200);
    await t.app.services.processor.kick();
    const rows = await t.db.query<{ processed_at: unknown; last_error: string | null }>(
      sql`select processed_at, last_error from webhook_events where webhook_event_id = ${e.webhookEventId}`,
    );
    expect(rows[0]!.processed_at).not.toBeNull();
    expect(rows[0]!.last_error).toBeNull();
  });

  it("stores delivery events (no source) for the notifier", async () => {
    const d = deliveryEvent("a".repeat(64));
    expect((await post(webhookBody([d]))).status).toBe(200);
    expect(await inboxCount(d.webhookEventId)).toBe(1);
  });
});

describe("friend state", () => {
  it("follow makes a friend (keeping isUnblocked), unfollow makes not a friend", async () => {
    const u = lineUserId();
    await post(webhookBody([followEvent(u, { timestamp: 1_000, isUnblocked: true })]));
    await t.app.services.processor.kick();
    const followed = await friendOf(u);
    expect(followed.friend).toBe(true);
    expect(followed.followedAt).toBe(new Date(1_000).toISOString());
    const row = await t.db.query<{ is_unblocked: boolean }>(sql`select is_unblocked from line_users where user_id = ${u}`);
    expect(row[0]!.is_unblocked).toBe(true);
    await post(webhookBody([unfollowEvent(u, { timestamp: 2_000 })]));
    await t.app.services.processor.kick();
    const unfollowed = await friendOf(u);
    expect(unfollowed.friend).toBe(false);
    expect(unfollowed.unfollowedAt).toBe(new Date(2_000).toISOString());
  });

  it("a late older follow never overrides a newer unfollow", async () => {
    const u = lineUserId();
    await post(webhookBody([unfollowEvent(u, { timestamp: 5_000 })]));
    await t.app.services.processor.kick();
    await post(webhookBody([followEvent(u, { timestamp: 4_000, isRedelivery: true })]));
    await t.app.services.processor.kick();
    expect((await friendOf(u)).friend).toBe(false);
  });

  it("out-of-order events in one body settle on the newest", async () => {
    const u = lineUserId();
    await post(webhookBody([followEvent(u, { timestamp: 9_000 }), unfollowEvent(u, { timestamp: 8_000 }), followEvent(u, { timestamp: 7_000 })]));
    await t.app.services.processor.kick();
    expect((await friendOf(u)).friend).toBe(true);
    const u2 = lineUserId();
    await post(webhookBody([unfollowEvent(u2, { timestamp: 9_000 }), followEvent(u2, { timestamp: 8_000 })]));
    await t.app.services.processor.kick();
    expect((await friendOf(u2)).friend).toBe(false);
  });

  it("one poison event does not drop the others in its body", async () => {
    const u1 = lineUserId();
    const u2 = lineUserId();
    // A follow whose source.userId is not a LINE user id makes its handler fail.
    const poison = { ...followEvent(lineUserId()), source: { type: "user", userId: 12345 } };
    const good1 = followEvent(u1);
    const good2 = followEvent(u2);
    const res = await post(webhookBody([good1, poison, good2]));
    expect(res.status).toBe(200);
    await t.app.services.processor.kick();
    expect((await friendOf(u1)).friend).toBe(true);
    expect((await friendOf(u2)).friend).toBe(true);
    const rows = await t.db.query<{ attempts: number; last_error: string | null; processed_at: unknown }>(
      sql`select attempts, last_error, processed_at from webhook_events where webhook_event_id = ${poison.webhookEventId}`,
    );
    expect(rows[0]!.last_error).toBeTruthy();
    expect(rows[0]!.attempts).toBeGreaterThanOrEqual(1);
  });
});

describe("odd but signed input", () => {
  it("stores an event whose timestamp is out of range instead of failing the body", async () => {
    const u = lineUserId();
    const odd = { ...followEvent(u), timestamp: 8.64e15 + 1 };
    const other = followEvent(lineUserId());
    expect((await post(webhookBody([odd, other]))).status).toBe(200);
    expect(await inboxCount(odd.webhookEventId)).toBe(1);
    expect(await inboxCount(other.webhookEventId)).toBe(1);
    await t.app.services.processor.kick();
    expect((await friendOf(u)).friend).toBe(true);
  });
});

describe("limits and failures", () => {
  it("answers 413 for a body over 1 MB and stores nothing", async () => {
    const e = textMessageEvent(lineUserId(), "x".repeat(1_100_000));
    const body = webhookBody([e]);
    const res = await post(body);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
    expect(await inboxCount(e.webhookEventId)).toBe(0);
  });

  it("answers 503 (so LINE redelivers) when the events cannot be stored", async () => {
    const own = await buildTestApp();
    await own.db.close();
    const body = webhookBody([followEvent(lineUserId())]);
    const res = await request(own.app).post("/webhook").set("x-line-signature", sign(body)).set("content-type", "application/json").send(body);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("unavailable");
  });

  it("counts webhook requests and events in /metrics", async () => {
    await post(webhookBody([followEvent(lineUserId())]));
    await post("{}", sign("{}", "wrong"));
    const m = await request(t.app).get("/metrics");
    expect(m.text).toMatch(/http_requests_total\{method="POST",route="\/webhook",status="200"\} \d+/);
    expect(m.text).toMatch(/http_requests_total\{method="POST",route="\/webhook",status="401"\} \d+/);
    expect(m.text).toMatch(/webhook_events_total\{type="follow",result="received"\} \d+/);
  });
});

describe("raw event fidelity", () => {
  it("stores each event exactly, whatever characters its text holds", async () => {
    const texts = ['he said "hi" \\ back\\slash', "你好，世界 😀 {braces,commas}", "line\nbreak\ttab NULL", "NULL", ""];
    const events = texts.map((text) => textMessageEvent(lineUserId(), text));
    expect((await post(webhookBody(events))).status).toBe(200);
    for (const e of events) {
      const rows = await t.db.query<{ event: { message: { text: string } } }>(
        sql`select event from webhook_events where webhook_event_id = ${e.webhookEventId}`,
      );
      expect(rows[0]!.event).toEqual(e);
    }
  });
});

describe("crash after the 200", () => {
  it("processes inbox rows left unprocessed when the app restarts", async () => {
    const u = lineUserId();
    const e = followEvent(u);
    // This app's own processor must not be mid-drain (it would pick the row up): only the restarted one may.
    await t.app.services.processor.drain();
    // Simulate a crash between the commit and processing: the row is stored, never processed.
    await t.db.query(sql`insert into webhook_events (webhook_event_id, type, event_timestamp, event)
      values (${e.webhookEventId}, 'follow', ${new Date(e.timestamp).toISOString()}::timestamptz, ${JSON.stringify(e)}::jsonb)`);
    expect((await friendOf(u)).status).toBeUndefined();
    const restarted = await buildTestApp({ db: t.db });
    await restarted.app.services.processor.kick();
    expect((await request(restarted.app).get(`/api/v1/line-users/${u}`).set(auth())).body.friend).toBe(true);
  });
});

describe("bot-sdk interop", () => {
  it("our signing matches the SDK's validateSignature", () => {
    const body = webhookBody([followEvent(lineUserId())]);
    expect(validateSignature(body, "test-channel-secret", sign(body))).toBe(true);
  });
});
