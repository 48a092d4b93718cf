import type { notifications } from "@oa-notify/db";
import type { LineApi } from "../../lib/line/client.ts";
import type { SmsProvider } from "../../lib/sms/types.ts";
import type { RenderConfig } from "../render.ts";

/** A notification row as the dispatcher holds it (drizzle's row type). */
export type NotificationRow = typeof notifications.$inferSelect;

/** The pace a call counts against: LINE rate-limits per endpoint and channel (2,000 req/s each). */
export type Endpoint = "push" | "pnp" | "pnp_template" | "sms";

/**
 * What became of one call, in the terms the state machine needs (docs/states.md):
 * - accepted: the provider took it (push 200/409, PNP 2xx, SMS 2xx);
 * - refused: it answered with an error: nothing was sent, and repeating will not help (PNP 422 = `unreachable`,
 *   push 429 monthly limit = `quota`);
 * - retry: surely not sent and worth trying again (429 rate limit, 5xx with an answer, connection never made);
 * - unknown: it may have gone out (timeout, reset after the request was written);
 * - withdrawn: the sent-marker's guard refused (a cancel or a delivery got there first): nothing went out.
 */
export type Outcome =
  | { kind: "accepted"; detail: Record<string, unknown>; reference?: string | null }
  | { kind: "refused"; reason: string; unreachable?: boolean; quota?: boolean }
  | { kind: "retry"; reason: string; retryAfterSeconds?: number | null; rateLimited?: boolean }
  | { kind: "unknown"; reason: string }
  | { kind: "withdrawn" };

export interface SendContext {
  line: LineApi;
  sms: SmsProvider;
  render: RenderConfig;
  /** LINE calls have no timeout of their own (the SDK's fetch): past this a call counts as `unknown`. */
  callTimeoutMs: number;
  now(): Date;
}

/** One call's worth of work: the row, and the marker committed for it before the call. */
export interface SendJob {
  row: NotificationRow;
  /** push: the X-Line-Retry-Key committed on the row. */
  retryKey?: string;
  /** PNP: the X-Line-Delivery-Tag committed on the row. */
  deliveryTag?: string;
  /** SMS: a fallback after a LINE leg (the text then carries the notice's time and the ignore line). */
  fallback?: boolean;
  /**
   * PNP: commits the sent-marker; the sender calls it once its request is on the wire but for the last byte, and
   * completes the request only when it resolves true (docs/states.md, "crash window"). Other channels' markers are
   * committed by the dispatcher before `send`.
   */
  commit?: () => Promise<boolean>;
}

/**
 * A channel's sender: a plain function from a job to an outcome, plus what the dispatcher must know about it.
 * `repeatable`: a call whose outcome is unknown may be made again without risking a duplicate (push: its retry key;
 * SMS: a provider that drops a repeated reference; PNP: never, LINE has no retry key for it).
 */
export interface Sender {
  endpoint(row: NotificationRow): Endpoint;
  repeatable(ctx: SendContext): boolean;
  send(ctx: SendContext, job: SendJob): Promise<Outcome>;
}
