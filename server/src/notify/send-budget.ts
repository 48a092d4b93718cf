import type { Database } from "@oa-notify/db";
import type { Logger } from "../lib/logger.ts";
import type { RateGate } from "./token-bucket.ts";

export interface SendBudgetOptions {
  db: Database;
  /** The LINE endpoint this budget paces ("push", "pnp", …): one `send_budget` row each. */
  endpoint: string;
  /** The fleet's calls per second on this endpoint, every process on the database together (LINE_SEND_RATE). */
  ratePerSecond: number;
  logger?: Logger | undefined;
  /** Most slots one lease takes (default: 50 ms of the rate). */
  maxChunk?: number;
  /** No new lease while this process already holds slots this far ahead (ms). */
  horizonMs?: number;
  /** A slot this late when it is handed out is dropped unused, so a stalled process never bursts (ms). */
  lateMs?: number;
}

// One statement per lease: the row's theoretical arrival time moves forward by `span` ms from max(itself, now). The
// answer is where this lease's slots start, and the database's clock at that instant, both in epoch ms: every process
// converts them to its own clock with the same estimated offset (below), so all agree on where each slot lies.
const LEASE = `
  insert into send_budget as b (endpoint, next_at) values ($1, clock_timestamp() + $2 * interval '1 millisecond')
  on conflict (endpoint) do update set next_at = greatest(b.next_at, clock_timestamp()) + $2 * interval '1 millisecond'
  returning extract(epoch from next_at) * 1000 - $2 as start_ms, extract(epoch from clock_timestamp()) * 1000 as db_now_ms`;
const PAUSE = `
  insert into send_budget as b (endpoint, next_at) values ($1, clock_timestamp() + $2 * interval '1 millisecond')
  on conflict (endpoint) do update set next_at = greatest(b.next_at, clock_timestamp() + $2 * interval '1 millisecond')`;

/**
 * The fleet-wide rate of one LINE endpoint (docs/decisions/0017-fleet-send-rate.md): a GCRA whose state is one row
 * in PostgreSQL, shared by every server and worker process. A process leases a chunk of consecutive call slots with
 * one UPDATE … RETURNING, then hands them to its waiting callers at their times. Slots are spaced 1/rate apart across
 * the whole fleet, so adding a process adds concurrency, never rate. A process leases only while callers wait and
 * only `horizonMs` ahead, so an idle process holds nothing, and a slot found stale is dropped, never bunched.
 */
export class SendBudget implements RateGate {
  private readonly interval: number;
  private readonly maxChunk: number;
  private readonly horizonMs: number;
  private readonly lateMs: number;
  private readonly waiters: (() => void)[] = [];
  /** Leased slot times not yet handed out, ascending (performance.now scale). */
  private slots: number[] = [];
  private slotHead = 0;
  /** The latest slot handed to a caller. */
  private lastGiven = 0;
  private leasing = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: SendBudgetOptions) {
    const rate = Math.max(o.ratePerSecond, 0.001);
    this.interval = 1000 / rate;
    this.maxChunk = Math.max(1, o.maxChunk ?? Math.floor(rate / 20));
    this.horizonMs = o.horizonMs ?? 100;
    this.lateMs = o.lateMs ?? 25;
  }

  take(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.pump();
    });
  }

  pause(ms: number): void {
    // Every process's next lease starts after the pause; slots this process already holds are dropped.
    this.slots = [];
    this.slotHead = 0;
    this.o.db.exec(PAUSE, [this.o.endpoint, Math.ceil(ms)], "send_budget_pause").catch((err) => {
      this.o.logger?.error({ err, endpoint: this.o.endpoint }, "send budget: pause not recorded");
    });
  }

  /** Hands out slots to waiters; leases more while callers wait and the slots held do not reach the horizon. */
  private pump(): void {
    const now = performance.now();
    while (this.waiters.length > 0 && this.slotHead < this.slots.length) {
      const at = this.slots[this.slotHead++]!;
      if (at < now - this.lateMs) continue; // stale: unused, so the fleet's spacing holds
      const resolve = this.waiters.shift()!;
      this.lastGiven = at;
      const wait = at - now;
      if (wait > 0.5) setTimeout(() => this.fire(at, resolve), wait);
      else resolve();
    }
    if (this.slotHead >= this.slots.length && this.slotHead > 0) {
      this.slots = [];
      this.slotHead = 0;
    }
    if (this.waiters.length === 0 || this.leasing || this.retryTimer) return;
    const lastHeld = Math.max(this.lastGiven, this.slots.length > 0 ? this.slots[this.slots.length - 1]! : now);
    if (lastHeld - now > this.horizonMs) {
      // Enough held for now: look again when the slots held (given out or not) run short of the horizon.
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = null;
          this.pump();
        },
        Math.max(1, lastHeld - now - this.horizonMs),
      );
      return;
    }
    void this.lease(Math.min(this.maxChunk, Math.max(1, this.waiters.length - (this.slots.length - this.slotHead))));
  }

  /** Database clock (epoch ms) minus this process's performance.now(), from the lease with the shortest round trip. */
  private offset = 0;
  private offsetRtt = Infinity;
  private offsetAt = 0;

  /**
   * NTP's rule: the database read its clock somewhere between sending and receiving, so the estimate is off by at most
   * half the round trip; the shortest recent round trip wins (a slow answer under load must not shift the slots, or
   * this process's slots would overlap another's). Renewed every 10 s so clock drift cannot accumulate.
   */
  private learnOffset(dbNow: number, sent: number, received: number): void {
    const rtt = received - sent;
    if (rtt <= this.offsetRtt || received - this.offsetAt > 10_000) {
      this.offset = dbNow - (sent + received) / 2;
      this.offsetRtt = rtt;
      this.offsetAt = received;
    }
  }

  /**
   * A slot's timer fired. Far later than its slot (the event loop stalled), it is stale: the caller waits for a fresh
   * one, so a stall turns into slots unused, never into a burst of calls on the wire.
   */
  private fire(at: number, resolve: () => void): void {
    if (performance.now() - at <= this.lateMs) {
      resolve();
      return;
    }
    this.waiters.unshift(resolve);
    this.pump();
  }

  private async lease(n: number): Promise<void> {
    this.leasing = true;
    const span = n * this.interval;
    try {
      const sent = performance.now();
      const [row] = await this.o.db.exec<{ start_ms: number | string; db_now_ms: number | string }>(LEASE, [this.o.endpoint, span], "send_budget_lease");
      const received = performance.now();
      this.learnOffset(Number(row!.db_now_ms), sent, received);
      const start = Number(row!.start_ms) - this.offset;
      for (let i = 0; i < n; i++) this.slots.push(start + i * this.interval);
      this.leasing = false;
      this.pump();
    } catch (err) {
      this.leasing = false;
      this.o.logger?.error({ err, endpoint: this.o.endpoint }, "send budget: lease failed; retrying");
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, 250);
    }
  }
}
