import { setTimeout as sleep } from "node:timers/promises";

/** What the dispatcher paces each LINE endpoint's calls with: this process's bucket, or the fleet's (send-budget.ts). */
export interface RateGate {
  /** Resolves when the caller may make one call. */
  take(): Promise<void>;
  /** No call before `ms` from now (a 429's Retry-After). */
  pause(ms: number): void;
}

/**
 * Paces calls to `ratePerSecond` with a burst of `burst` (GCRA, the token bucket's exact equivalent: one number of
 * state, O(1) per call, no timers while idle). `take()` resolves when the caller may send. Real time on purpose:
 * it paces real HTTP calls, whatever the business clock says.
 */
export class TokenBucket implements RateGate {
  private tat = 0; // theoretical arrival time of the next call, ms (performance.now scale)
  private readonly interval: number;
  private readonly tolerance: number;
  constructor(ratePerSecond: number, burst = Math.max(1, Math.floor(ratePerSecond / 50))) {
    this.interval = 1000 / Math.max(ratePerSecond, 0.001);
    this.tolerance = Math.max(0, burst - 1) * this.interval;
  }
  /** No call before `ms` from now (LINE's Retry-After applies to the endpoint, not just the one request). */
  pause(ms: number): void {
    this.tat = Math.max(this.tat, performance.now() + ms + this.tolerance);
  }
  take(): Promise<void> {
    const now = performance.now();
    const tat = Math.max(this.tat, now);
    const wait = tat - this.tolerance - now;
    this.tat = tat + this.interval;
    return wait > 0.5 ? sleep(wait).then(() => undefined) : Promise.resolve();
  }
}
