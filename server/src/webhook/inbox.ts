import { createHash } from "node:crypto";
import { type Database, pgArray } from "@oa-notify/db";
import { BatchWriter } from "../lib/batch-writer.ts";

export interface InboxEvent {
  webhookEventId: string;
  type: string;
  timestamp: number | null;
  raw: unknown;
}

/**
 * The stable key we dedupe on. LINE always sends a webhookEventId (a ULID); one that is missing, or not a short
 * printable id, is replaced by a hash of the event.
 */
export function eventKey(e: Record<string, unknown>): string {
  const id = e["webhookEventId"];
  if (typeof id === "string" && /^[\x21-\x7e]{1,128}$/.test(id)) return id;
  return `sha256:${createHash("sha256").update(JSON.stringify(e)).digest("hex")}`;
}

/** One request's outcome in a group write: its new inbox ids, or why its events could not be stored. */
type Stored = { ids: number[] } | { error: unknown };

const INSERT_EVENTS = `insert into webhook_events (webhook_event_id, type, event_timestamp, event)
  select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[])
  on conflict (webhook_event_id) do nothing returning id, webhook_event_id`;

/**
 * The webhook inbox: every event of a request is stored before the request is answered (the webhook's promise:
 * nothing acknowledged is lost). Requests arriving while an insert is in flight are written together in the next
 * one (group commit, lib/batch-writer.ts); each is answered only after the statement holding its events committed.
 */
export class InboxWriter {
  private readonly writer: BatchWriter<InboxEvent[], Stored>;
  constructor(private readonly database: Database) {
    // One insert in flight: requests arriving meanwhile form the next, bigger batch. Measured (bench:webhook) to
    // beat 2, 4 or 8 parallel inserts, since every statement and commit costs the database CPU it shares.
    this.writer = new BatchWriter((requests) => this.write(requests), { maxParallel: 1, maxBatch: 500, weight: (events) => events.length });
  }

  /** Stores the events; resolves with the inbox ids of those that were new (duplicates are skipped). */
  async store(events: InboxEvent[]): Promise<number[]> {
    if (events.length === 0) return [];
    const r = await this.writer.submit(events);
    if ("error" in r) throw r.error;
    return r.ids;
  }

  /**
   * The group's insert; if it fails, each request is written on its own, so an event the database refuses fails only
   * the request that carried it (that one gets 503) and never the other requests that happened to share its group.
   */
  private async write(requests: InboxEvent[][]): Promise<Stored[]> {
    try {
      return (await this.insert(requests)).map((ids) => ({ ids }));
    } catch (err) {
      if (requests.length === 1) return [{ error: err }];
      const out: Stored[] = [];
      for (const r of requests)
        out.push(
          await this.insert([r]).then(
            ([ids]) => ({ ids: ids! }),
            (error: unknown) => ({ error }),
          ),
        );
      return out;
    }
  }

  private async insert(requests: InboxEvent[][]): Promise<number[][]> {
    // One event id may appear twice inside one batch (a redelivery racing its original): keep the first.
    const seen = new Set<string>();
    const rows: InboxEvent[] = [];
    for (const events of requests) for (const e of events) if (!seen.has(e.webhookEventId)) seen.add(e.webhookEventId), rows.push(e);
    // Four array parameters whatever the batch size: one prepared statement for every batch.
    const inserted = await this.database.exec<{ id: string | number; webhook_event_id: string }>(
      INSERT_EVENTS,
      [
        pgArray(rows.map((e) => e.webhookEventId)),
        pgArray(rows.map((e) => e.type)),
        pgArray(rows.map((e) => (e.timestamp === null ? null : new Date(e.timestamp).toISOString()))),
        pgArray(rows.map((e) => JSON.stringify(e.raw))),
      ],
      "oa_inbox_insert",
    );
    const idByKey = new Map(inserted.map((r) => [r.webhook_event_id, Number(r.id)]));
    return requests.map((events) => {
      const ids: number[] = [];
      for (const e of events) {
        const id = idByKey.get(e.webhookEventId);
        if (id !== undefined) ids.push(id), idByKey.delete(e.webhookEventId);
      }
      return ids;
    });
  }
}
