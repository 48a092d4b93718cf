import { type Database, pgArray, sql } from "@oa-notify/db";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";
import { typeLabel } from "./event-types.ts";
import { applyBulk, bulkable, defaultHandlers, type EventHandler } from "./handlers.ts";

export const MAX_EVENT_ATTEMPTS = 5;
const BATCH = 500;

/**
 * Processes stored webhook events. Each event runs in its own savepoint, so one poison event never takes the
 * others down; a failed event keeps its row (attempts, last error) and is retried later, up to a limit.
 * Runs on kick (after each webhook), on start-up (events left unprocessed by a crash) and on a slow sweep.
 */
export class WebhookProcessor {
  private running = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();
  /** By event type; a Map, so a stored type such as `constructor` or `__proto__` finds nothing (not Object's). */
  private readonly handlers: Map<string, EventHandler>;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    handlers: Partial<Record<string, EventHandler>> = {},
    private readonly coalesceMs = 200,
  ) {
    this.handlers = new Map(Object.entries({ ...defaultHandlers, ...handlers }).filter((e): e is [string, EventHandler] => typeof e[1] === "function"));
  }

  /**
   * Schedules a drain; returns a promise that settles when the queue is empty. Under load, passes are spaced by
   * `coalesceMs` so each takes a few hundred events at once: the per-pass cost (a transaction, a handful of
   * statements) is then spread thin, and acknowledging webhooks keeps the CPU it needs.
   */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.idle;
    }
    this.running = true;
    this.idle = new Promise<void>((resolve) => {
      setImmediate(async () => {
        try {
          do {
            this.again = false;
            while ((await this.processBatch(BATCH)) === BATCH) this.again = false;
            if (this.again) await new Promise((r) => setTimeout(r, this.coalesceMs));
          } while (this.again);
        } catch (err) {
          this.logger.error({ err }, "webhook processing failed");
        } finally {
          this.running = false;
          resolve();
        }
      });
    });
    return this.idle;
  }

  /** Waits for the current drain (graceful shutdown, tests). */
  drain(): Promise<void> {
    return this.idle;
  }

  /** Processes up to `limit` due events; returns how many it took. */
  async processBatch(limit: number): Promise<number> {
    const { db } = this.database;
    return db.transaction(async (tx) => {
      const res = (await tx.execute(sql`
        select id, type, event, event_timestamp, received_at from webhook_events
        where processed_at is null and attempts < ${MAX_EVENT_ATTEMPTS} and (retry_at is null or retry_at <= now())
        order by id limit ${limit} for update skip locked`)) as unknown as {
        rows: { id: string | number; type: string; event: Record<string, any>; event_timestamp: string | Date | null; received_at: string | Date }[];
      };
      if (res.rows.length === 0) return 0;
      const items = res.rows.map((row) => ({
        id: Number(row.id),
        type: row.type,
        event: row.event,
        at: new Date(row.event_timestamp ?? row.received_at),
        handler: this.handlers.get(row.type),
      }));
      // Fast path: the whole batch in one savepoint, friend and message events applied set-wise (a few statements
      // for hundreds of events), the rest by their handlers, all marked processed with one statement. Poison events
      // are rare; if anything throws, the batch is rolled back to the savepoint and redone one savepoint per event.
      try {
        await tx.transaction(async (sp) => {
          const bulk = new Set(items.filter((it) => Object.hasOwn(defaultHandlers, it.type) && it.handler === defaultHandlers[it.type] && bulkable(it)));
          if (bulk.size > 0) await applyBulk(sp, [...bulk]);
          for (const it of items) if (it.handler && !bulk.has(it)) await it.handler({ tx: sp, event: it.event, at: it.at });
        });
        await tx.execute(sql`update webhook_events set processed_at = now(), attempts = attempts + 1, last_error = null
          where id = any(${pgArray(items.map((i) => String(i.id)))}::bigint[])`);
        for (const it of items) this.metrics?.webhookProcessed.inc({ type: typeLabel(it.type), outcome: it.handler ? "ok" : "ignored" });
        return items.length;
      } catch (err) {
        // Counted and logged: the set-wise path is the fast one, and tests prove it ran (not only its fallback).
        this.metrics?.webhookBatchFallbacks.inc();
        this.logger.warn({ err: err instanceof Error ? err.message : String(err), events: items.length }, "webhook batch redone event by event");
      }
      for (const { id, type, event, at, handler } of items) {
        try {
          if (handler) await tx.transaction(async (sp) => handler({ tx: sp, event, at }));
          await tx.execute(sql`update webhook_events set processed_at = now(), attempts = attempts + 1, last_error = null where id = ${id}`);
          this.metrics?.webhookProcessed.inc({ type: typeLabel(type), outcome: handler ? "ok" : "ignored" });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          this.logger.warn({ inboxId: id, type, err: message }, "webhook event failed");
          this.metrics?.webhookProcessed.inc({ type: typeLabel(type), outcome: "error" });
          // A poison event is parked after its last attempt: kept, visible, no longer retried.
          await tx.execute(sql`
            update webhook_events set attempts = attempts + 1, last_error = ${message.slice(0, 500)},
              processed_at = case when attempts + 1 >= ${MAX_EVENT_ATTEMPTS} then now() else null end,
              retry_at = now() + make_interval(secs => power(2, attempts + 1))
            where id = ${id}`);
        }
      }
      return res.rows.length;
    });
  }
}
