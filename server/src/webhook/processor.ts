import { sql } from "@oa-notify/db";
import type { Database } from "@oa-notify/db";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";
import { defaultHandlers, type EventHandler } from "./handlers.ts";

export const MAX_EVENT_ATTEMPTS = 5;

/**
 * Processes stored webhook events. Each event runs in its own savepoint, so one poison event never takes the
 * others down; a failed event keeps its row (attempts, last error) and is retried later, up to a limit.
 * Runs on kick (after each webhook), on start-up (events left unprocessed by a crash) and on a slow sweep.
 */
export class WebhookProcessor {
  private running = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly handlers: Record<string, EventHandler>;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    handlers: Partial<Record<string, EventHandler>> = {},
  ) {
    this.handlers = { ...defaultHandlers, ...(handlers as Record<string, EventHandler>) };
  }

  /** Schedules a drain; returns a promise that settles when the queue is empty. */
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
            while ((await this.processBatch(100)) > 0) this.again = false;
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
      for (const row of res.rows) {
        const id = Number(row.id);
        const at = new Date(row.event_timestamp ?? row.received_at);
        const handler = this.handlers[row.type];
        try {
          if (handler) await tx.transaction(async (sp) => handler({ tx: sp, event: row.event, at }));
          await tx.execute(sql`update webhook_events set processed_at = now(), attempts = attempts + 1, last_error = null where id = ${id}`);
          this.metrics?.webhookProcessed.inc({ type: handler ? row.type : "unknown", outcome: handler ? "ok" : "ignored" });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          this.logger.warn({ inboxId: id, type: row.type, err: message }, "webhook event failed");
          this.metrics?.webhookProcessed.inc({ type: row.type, outcome: "error" });
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
