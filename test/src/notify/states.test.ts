import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { notificationStatuses, sql } from "@oa-notify/db";
import { renderTransitionTable, TABLE_END, TABLE_START } from "@oa-notify/server/notify/states-doc.ts";
import { apply, pushDelivered, transitionDefs, windowExpired } from "@oa-notify/server/notify/transitions.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, type TestDb } from "../helpers/db.ts";

/** The state machine as code (server/src/notify/transitions.ts) and its table in docs/states.md. */
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.close());

const insert = (id: string, status: string) =>
  db.query(sql`insert into notifications (id, scenario, urgency, content, status, channel) values (${id}, 'shipping', 'day', '{}'::jsonb, ${status}, 'pnp')`);

describe("notification state machine", () => {
  it("docs/states.md holds exactly the table generated from the transitions (pnpm docs:states)", () => {
    const doc = readFileSync(new URL("../../../docs/states.md", import.meta.url), "utf8");
    const a = doc.indexOf(TABLE_START);
    const b = doc.indexOf(TABLE_END);
    expect(a).toBeGreaterThan(0);
    expect(doc.slice(a, b + TABLE_END.length)).toBe(renderTransitionTable());
  });

  it("every status is reached by some transition, and every transition's states are real ones", () => {
    const reached = new Set(transitionDefs.flatMap((d) => (Array.isArray(d.to) ? d.to : [])));
    for (const s of notificationStatuses) expect(reached, `no transition leads to ${s}`).toContain(s);
    for (const d of transitionDefs)
      for (const s of [...(Array.isArray(d.from) ? d.from : []), ...(Array.isArray(d.to) ? d.to : [])]) expect(notificationStatuses).toContain(s);
    expect(new Set(transitionDefs.map((d) => d.name)).size).toBe(transitionDefs.length);
  });

  it("the database refuses a status or a timeline state outside the lists (CHECK constraints)", async () => {
    await expect(insert(randomUUID(), "sms_snet")).rejects.toThrow();
    const id = randomUUID();
    await insert(id, "queued");
    await expect(db.query(sql`update notifications set status = 'deliverd' where id = ${id}`)).rejects.toThrow();
    await expect(db.query(sql`insert into notification_events (notification_id, at, state) values (${id}, now(), 'bogus')`)).rejects.toThrow();
    await expect(db.query(sql`update notifications set channel = 'fax' where id = ${id}`)).rejects.toThrow();
  });

  it("a transition changes only rows in the states it may leave, and writes its timeline with the change", async () => {
    const queued = randomUUID();
    const sent = randomUUID();
    await insert(queued, "queued");
    await insert(sent, "sent");
    const at = "2026-11-26T02:00:00.000Z";
    const changed = await apply(db.db, pushDelivered, [
      { id: queued, at, sent: { by: "test" }, delivered: { by: "test" } },
      { id: sent, at, sent: { by: "test" }, delivered: { by: "test" } },
    ]);
    expect(changed.map((c) => [c.id, c.status])).toEqual([[queued, "delivered"]]);
    const events = await db.query<{ notification_id: string; state: string }>(
      sql`select notification_id::text, state from notification_events where notification_id in (${queued}, ${sent}) order by id`,
    );
    expect(events).toEqual([
      { notification_id: queued, state: "sent" },
      { notification_id: queued, state: "delivered" },
    ]);
    // Its own guard too: a delivered PNP never expires to undelivered.
    await db.query(sql`update notifications set delivered_at = now() where id = ${sent}`);
    expect(await apply(db.db, windowExpired, [{ id: sent, at }])).toEqual([]);
    const [row] = await db.query<{ status: string }>(sql`select status from notifications where id = ${sent}`);
    expect(row!.status).toBe("sent");
  });
});
