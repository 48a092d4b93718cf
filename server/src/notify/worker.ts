import { notifications, sql } from "@oa-notify/db";
import type { AppDeps } from "../deps.ts";
import type { Config } from "../env.ts";
import { typedRow } from "../lib/rows.ts";
import { WakeableSleep } from "../lib/wakeable-sleep.ts";
import { purgeExpired } from "../members/personal-data.ts";
import type { Endpoint } from "./channels/index.ts";
import { type ClaimedRow, Dispatcher } from "./dispatch.ts";
import { routingFactsSql } from "./recipients.ts";
import { SendBudget } from "./send-budget.ts";
import { type RateGate, TokenBucket } from "./token-bucket.ts";

/** The app's dependencies, less what only the HTTP side uses. */
export type NotifyWorkerDeps = Omit<AppDeps, "sandboxConsole">;
export interface NotifyWorkerOptions {
  concurrency?: number;
  ratePerSecond?: number;
  /** A claimed row is invisible to other workers this long; a crashed worker's rows come back after it. */
  leaseSeconds?: number;
  pollMs?: number;
  maxAttempts?: number;
  callTimeoutMs?: number;
  claimBatch?: number;
  /** At-least-once PNP grace (default: PNP_RESEND_AFTER_SECONDS; 0 = at most once). */
  pnpResendAfterSeconds?: number;
  /**
   * Pace each endpoint with the fleet's shared budget (docs/decisions/0017-fleet-send-rate.md): default on PostgreSQL,
   * where several processes may send; PGlite is one process, and its own bucket is the whole fleet's.
   */
  sharedRate?: boolean;
  /** Longest real-time pause of an endpoint's sending after a rate-limit 429 with Retry-After (0 = only delay the row). */
  maxRatePauseMs?: number;
  /** Fallback SMS quiet hours (default: SMS_QUIET_HOURS; null = none). */
  quietHours?: Config["smsQuietHours"];
}

/**
 * The dispatch loop. The notification row is the job (docs/decisions/0002-row-as-job.md): a worker claims due rows
 * (`due_at <= now`) with FOR UPDATE SKIP LOCKED in one short statement that also pushes `due_at` out by a lease, then
 * hands each to the Dispatcher (dispatch.ts: route, marker, sender, outcome) outside any transaction, at most
 * `concurrency` at a time, paced per LINE endpoint. Several workers (processes, machines) may share one PostgreSQL;
 * there the rate is the fleet's, leased from `send_budget` (send-budget.ts), so a worker adds concurrency, not rate.
 */
export class NotifyWorker {
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly claimBatch: number;
  private readonly dispatcher: Dispatcher;
  private readonly inflight = new Set<Promise<void>>();
  private running = false;
  private purgeTimer: NodeJS.Timeout | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly idle = new WakeableSleep();
  /** Sends made by this worker, by endpoint (benchmarks and logs). */
  readonly counts: Record<Endpoint, number> = { push: 0, pnp: 0, pnp_template: 0, sms: 0 };

  constructor(
    private readonly deps: NotifyWorkerDeps,
    opts: NotifyWorkerOptions = {},
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? deps.config.workerConcurrency);
    const rate = opts.ratePerSecond ?? deps.config.sendRatePerSecond;
    this.leaseMs = (opts.leaseSeconds ?? 120) * 1000;
    this.pollMs = opts.pollMs ?? 250;
    this.claimBatch = opts.claimBatch ?? Math.max(10, this.concurrency);
    const shared = opts.sharedRate ?? deps.db.kind === "postgres";
    const gate = (endpoint: string): RateGate =>
      shared ? new SendBudget({ db: deps.db, endpoint, ratePerSecond: rate, logger: deps.logger }) : new TokenBucket(rate);
    this.dispatcher = new Dispatcher({
      db: deps.db,
      clock: deps.clock,
      logger: deps.logger,
      metrics: deps.metrics,
      ctx: {
        line: deps.line,
        sms: deps.sms,
        render: {
          appSecret: deps.config.appSecret,
          liffId: deps.config.line.liffId,
          publicBaseUrl: deps.config.publicBaseUrl,
          smsMaxParts: deps.config.smsMaxParts,
        },
        callTimeoutMs: opts.callTimeoutMs ?? 10_000,
        now: () => deps.clock.now(),
      },
      buckets: { push: gate("push"), pnp: gate("pnp"), pnp_template: gate("pnp_template") },
      maxAttempts: opts.maxAttempts ?? 8,
      maxRatePauseMs: opts.maxRatePauseMs ?? 60_000,
      pnpResendAfterSeconds: opts.pnpResendAfterSeconds ?? deps.config.pnpResendAfterSeconds,
      counts: this.counts,
      quietHours: opts.quietHours === undefined ? deps.config.smsQuietHours : opts.quietHours,
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
    // RETENTION_DAYS: purge old phone numbers and content at start and then hourly (members/personal-data.ts).
    const purge = () => void this.purgeNow().catch((err: unknown) => this.deps.logger.error({ err }, "notify worker: retention purge failed"));
    purge();
    this.purgeTimer = setInterval(purge, 3600_000);
    this.purgeTimer.unref();
  }

  /** One retention purge now (tests, and the hourly timer). */
  async purgeNow(): Promise<number> {
    const out = await purgeExpired(this.deps.db.db, { clock: this.deps.clock, retentionDays: this.deps.config.retentionDays });
    if (out.notifications > 0) this.deps.logger.info({ purged: out.notifications, retentionDays: this.deps.config.retentionDays }, "retention purge");
    return out.notifications;
  }

  /** Stops claiming, waits for in-flight sends to record their outcome. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.idle.wake();
    await this.loopDone;
    await Promise.allSettled([...this.inflight]);
  }

  /** Processes everything due at the clock's now, until nothing is (tests move a ManualClock between calls). */
  async runUntilIdle(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.claim(this.claimBatch);
      if (rows.length === 0) return total;
      total += rows.length;
      let next = 0;
      const lane = async () => {
        while (next < rows.length) await this.dispatcher.process(rows[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, rows.length) }, lane));
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const free = this.concurrency - this.inflight.size;
      // Claim in chunks of at least a quarter of the capacity: fewer, bigger claim statements.
      if (free > 0 && (this.inflight.size === 0 || free >= Math.max(1, Math.floor(this.concurrency / 4)))) {
        let rows: ClaimedRow[] = [];
        try {
          rows = await this.claim(Math.min(free, this.claimBatch));
        } catch (err) {
          this.deps.logger.error({ err }, "notify worker: claim failed");
        }
        for (const r of rows) {
          const p: Promise<void> = this.dispatcher.process(r).finally(() => {
            this.inflight.delete(p);
            this.idle.wake();
          });
          this.inflight.add(p);
        }
        if (rows.length > 0 && this.inflight.size < this.concurrency) continue;
      }
      await this.idle.sleep(this.pollMs);
    }
  }

  /** One claimed row's next step (tests use it to replay what a worker holding a stale copy would do). */
  process(row: ClaimedRow): Promise<void> {
    return this.dispatcher.process(row);
  }

  /** Claims up to `limit` due rows for this worker's lease. */
  async claim(limit: number): Promise<ClaimedRow[]> {
    const now = this.deps.clock.now();
    const lease = new Date(now.getTime() + this.leaseMs);
    const rows = await this.deps.db.query<Record<string, unknown>>(sql`
      with due as (
        select id from notifications where due_at <= ${now.toISOString()}::timestamptz
        order by due_at limit ${limit} for update skip locked
      ), claimed as (
        update notifications n set due_at = ${lease.toISOString()}::timestamptz from due where n.id = due.id returning n.*
      )
      select c.*, (m.member_id is not null) as member_found, m.line_user_id as m_line_user_id, ${sql.raw(routingFactsSql)},
        coalesce(s.pnp_approved, false) as s_pnp_approved
      from claimed c left join members m on m.member_id = c.member_id and m.erased_at is null
        left join line_users lu on lu.user_id = m.line_user_id
        left join scenarios s on s.scenario = c.scenario and s.retired_at is null`);
    return rows.map((raw) => ({
      ...typedRow(notifications, raw),
      memberFound: Boolean(raw["member_found"]),
      memberLineUserId: (raw["m_line_user_id"] as string | null) ?? null,
      memberFriend: Boolean(raw["friend"]),
      memberBlocked: Boolean(raw["blocked"]),
      memberLineWithdrawnAt: raw["line_withdrawn_at"] ? new Date(raw["line_withdrawn_at"] as string).toISOString() : null,
      scenarioApproved: Boolean(raw["s_pnp_approved"]),
    }));
  }
}

export function createNotifyWorker(deps: NotifyWorkerDeps, opts?: NotifyWorkerOptions): NotifyWorker {
  return new NotifyWorker(deps, opts);
}
