import { type Database, sql, webhookDeliveries } from "@oa-notify/db";
import type { Config } from "../env.ts";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";
import { typedRow } from "../lib/rows.ts";
import { WakeableSleep } from "../lib/wakeable-sleep.ts";
import { roundTwd } from "../notify/cost.ts";
import { signStandardWebhook } from "./sign.ts";

/** How long a delivery keeps being retried from its first attempt before it is `failed` (then replayable). */
export const RETRY_WINDOW_MS = 24 * 3600 * 1000;
/** The longest pause between two attempts. */
const MAX_BACKOFF_MS = 3600 * 1000;

export type DeliveryRow = typeof webhookDeliveries.$inferSelect & { url: string };

export interface WebhookDeliveryDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  config: Pick<Config, "webhooks" | "prices">;
  metrics?: Metrics | undefined;
}
export interface WebhookDeliveryOptions {
  concurrency?: number;
  leaseSeconds?: number;
  pollMs?: number;
  timeoutMs?: number;
  /** First retry delay (doubling, with jitter, up to an hour); default WEBHOOK_RETRY_BASE_SECONDS. */
  retryBaseMs?: number;
}

/**
 * The delivery loop of the webhook outbox (docs/decisions/0012-webhook-outbox.md), the same row-as-job pattern as
 * the notify worker: claim due rows with FOR UPDATE SKIP LOCKED while pushing `next_attempt_at` out by a lease (a
 * crashed worker's rows come back after it), POST each outside any transaction, record the outcome. A row is only
 * claimable when every earlier row of its stream (one notification's callbacks; one forward URL) was delivered, so
 * event n+1 never goes before event n succeeded. Non-2xx or no answer: retried with exponential backoff and jitter
 * until 24 h after the first attempt, always with the same `webhook-id`; then `failed`, until an operator replays it.
 */
export class WebhookDeliveryWorker {
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly retryBaseMs: number;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly idle = new WakeableSleep();

  constructor(
    private readonly deps: WebhookDeliveryDeps,
    opts: WebhookDeliveryOptions = {},
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.leaseMs = (opts.leaseSeconds ?? 60) * 1000;
    this.pollMs = opts.pollMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retryBaseMs = opts.retryBaseMs ?? deps.config.webhooks.retryBaseSeconds * 1000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.idle.wake();
    await this.loopDone;
  }

  /** Delivers everything due at the clock's now, until nothing is (tests move a ManualClock between calls). */
  async runUntilIdle(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.claim(this.concurrency);
      if (rows.length === 0) return total;
      total += rows.length;
      await Promise.all(rows.map((r) => this.deliver(r)));
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let n = 0;
      try {
        n = await this.runOnce();
      } catch (err) {
        this.deps.logger.error({ err }, "webhook delivery: claim failed");
      }
      if (n === 0) await this.idle.sleep(this.pollMs);
    }
  }

  private async runOnce(): Promise<number> {
    const rows = await this.claim(this.concurrency);
    await Promise.all(rows.map((r) => this.deliver(r)));
    return rows.length;
  }

  /** Claims up to `limit` due rows, each the oldest undelivered row of its stream, for this worker's lease. */
  async claim(limit: number): Promise<DeliveryRow[]> {
    const now = this.deps.clock.now();
    const lease = new Date(now.getTime() + this.leaseMs);
    const rows = await this.deps.db.query<Record<string, unknown>>(sql`
      with due as (
        select d.id from webhook_deliveries d
        where d.status = 'pending' and d.next_attempt_at <= ${now.toISOString()}::timestamptz
          and exists (select 1 from webhook_endpoints e where e.id = d.endpoint_id and e.active)
          and not exists (select 1 from webhook_deliveries p
            where p.endpoint_id = d.endpoint_id and p.stream = d.stream and p.id < d.id and p.status <> 'delivered')
        order by d.next_attempt_at, d.id limit ${limit} for update of d skip locked
      ), claimed as (
        update webhook_deliveries d set next_attempt_at = ${lease.toISOString()}::timestamptz,
          first_attempt_at = coalesce(d.first_attempt_at, ${now.toISOString()}::timestamptz)
        from due where d.id = due.id returning d.*
      )
      select c.*, e.url from claimed c join webhook_endpoints e on e.id = c.endpoint_id order by c.id`);
    return rows.map((raw) => ({ ...typedRow(webhookDeliveries, raw), url: String(raw["url"]) }));
  }

  /** One attempt at one row, and its outcome recorded. */
  async deliver(row: DeliveryRow): Promise<void> {
    let status: number | null = null;
    let error: string | null = null;
    try {
      const req = this.request(row);
      const res = await fetch(row.url, {
        method: "POST",
        headers: req.headers,
        body: req.body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (err) {
      error = err instanceof Error ? (err.name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : err.message) : String(err);
    }
    const now = this.deps.clock.now();
    const attempts = row.attempts + 1;
    let outcome: "delivered" | "retry" | "failed";
    if (!error) {
      outcome = "delivered";
      await this.deps.db.query(sql`update webhook_deliveries set status = 'delivered', delivered_at = ${now.toISOString()}::timestamptz,
        attempts = ${attempts}, last_attempt_at = ${now.toISOString()}::timestamptz, last_status = ${status}, last_error = null
        where id = ${row.id} and status = 'pending'`);
      this.idle.wake(); // the next row of its stream may be due now
    } else {
      const first = (row.firstAttemptAt ?? now).getTime();
      const giveUp = now.getTime() - first >= RETRY_WINDOW_MS;
      outcome = giveUp ? "failed" : "retry";
      const next = new Date(now.getTime() + this.backoffMs(attempts));
      await this.deps.db.query(sql`update webhook_deliveries set status = ${giveUp ? "failed" : "pending"},
        next_attempt_at = ${next.toISOString()}::timestamptz, attempts = ${attempts}, last_attempt_at = ${now.toISOString()}::timestamptz,
        last_status = ${status}, last_error = ${error.slice(0, 500)}
        where id = ${row.id} and status = 'pending'`);
      this.deps.logger.warn({ delivery: row.id, kind: row.kind, attempts, status, error, outcome }, "webhook delivery failed");
    }
    this.deps.metrics?.webhookDeliveries.inc({ kind: row.kind, outcome });
  }

  /** Exponential from the base, capped at an hour, with ±25 % jitter so that retries of many rows spread out. */
  backoffMs(attempts: number): number {
    const raw = Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** Math.min(30, attempts - 1));
    return Math.round(raw * (0.75 + Math.random() * 0.5));
  }

  /** The HTTP request for a row: a signed status callback, or a forward with its original bytes and signature. */
  request(row: DeliveryRow): { headers: Record<string, string>; body: string | Uint8Array<ArrayBuffer> } {
    if (row.kind === "forward") {
      return {
        body: new Uint8Array(Buffer.from(row.body ?? "", "base64")),
        headers: { "content-type": "application/json; charset=utf-8", "x-line-signature": row.signature ?? "", "user-agent": "oa-notify-forward/1" },
      };
    }
    const body = statusBody(row, this.deps.config.prices);
    const secret = this.deps.config.webhooks.statusSecret;
    // Wall-clock seconds: the receiver checks them against its own clock (replay protection).
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      body,
      headers: {
        "content-type": "application/json",
        "user-agent": "oa-notify-callbacks/1",
        "webhook-id": row.messageId,
        "webhook-timestamp": String(timestamp),
        ...(secret ? { "webhook-signature": signStandardWebhook(secret, row.messageId, timestamp, body) } : {}),
      },
    };
  }
}

interface StatusPayload {
  id: string;
  status: string;
  channel: string | null;
  memberId: string | null;
  scenario: string;
  batchId: string | null;
  at: string;
  lineDelivered: boolean;
  smsSent: boolean;
}

/** The callback's JSON (docs/api.md): the same bytes on every attempt of one event. */
export function statusBody(row: Pick<DeliveryRow, "eventType" | "payload">, prices: Config["prices"]): string {
  const p = row.payload as StatusPayload;
  const at = new Date(p.at).toISOString();
  // The notification's cost as of this event, by the one cost rule (notify/cost.ts).
  const line = p.lineDelivered ? (p.channel === "push" ? prices.push : p.channel === "pnp" ? prices.pnp : 0) : 0;
  const costTwd = roundTwd(line + (p.smsSent ? prices.sms : 0));
  return JSON.stringify({
    type: row.eventType,
    timestamp: at,
    data: { id: p.id, status: p.status, channel: p.channel, memberId: p.memberId, scenario: p.scenario, batchId: p.batchId, costTwd, at },
  });
}
