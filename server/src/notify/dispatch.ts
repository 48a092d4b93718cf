import { randomUUID } from "node:crypto";
import type { Channel, Database } from "@oa-notify/db";
import type { Config } from "../env.ts";
import { BatchWriter } from "../lib/batch-writer.ts";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";
import { deliveryTagFor, type Endpoint, type NotificationRow, type Outcome, type SendContext, type SendJob, senders } from "./channels/index.ts";
import { smsFor } from "./channels/sms.ts";
import { fallbackSmsDue } from "./quiet-hours.ts";
import { decideRoute, type RouteDecision, smsAllowed } from "./route.ts";
import type { RateGate } from "./token-bucket.ts";
import * as T from "./transitions.ts";
import { checkWaiting, matchStoredDelivery, waitDue } from "./waiting.ts";

/** A claimed row: the notification, and its member's LINE binding and friend state as they are now. */
export interface ClaimedRow extends NotificationRow {
  memberFound: boolean;
  memberLineUserId: string | null;
  memberFriend: boolean;
  /** The bound LINE user's latest follow/unfollow event is an unfollow. */
  memberBlocked: boolean;
  /** The member's latest consent decision is a withdrawal (at this time); null otherwise. */
  memberLineWithdrawnAt: string | null;
  /** The scenario is in the registry now and approved for PNP. */
  scenarioApproved: boolean;
}

export interface DispatchDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics | undefined;
  ctx: SendContext;
  buckets: Record<Exclude<Endpoint, "sms">, RateGate>;
  maxAttempts: number;
  maxRatePauseMs: number;
  /** At-least-once PNP: seconds after an ambiguous call before the one resend; 0 = at most once (docs/states.md). */
  pnpResendAfterSeconds: number;
  /** Sends made, by endpoint (benchmarks and logs). */
  counts: Record<Endpoint, number>;
  /** Quiet hours for a fallback SMS (SMS_QUIET_HOURS); null or absent: none. */
  quietHours?: Config["smsQuietHours"];
}

const iso = (d: Date) => d.toISOString();
/** What decide() hands the first call: the push retry key it committed, or the PNP route-and-marker write to run. */
type Prepared = Pick<SendJob, "retryKey" | "deliveryTag" | "commit">;
const route = (r: NotificationRow) => r.route as RouteDecision | null;

/**
 * One claimed row's next step (docs/states.md): decide the route, commit the marker, hand the call to the channel's
 * sender, record its outcome; or, for a PNP waiting for its delivery event, settle it (delivered, SMS fallback, 24 h).
 * Every write is a transition (transitions.ts); the hot ones are group-committed.
 */
export class Dispatcher {
  private readonly observe: T.TransitionObserver;
  private readonly writers = new Map<T.TransitionDef<object>, BatchWriter<object, T.Changed | null>>();

  constructor(private readonly d: DispatchDeps) {
    this.observe = (name, rows) => {
      for (const r of rows) d.metrics?.notifications.inc({ transition: name, channel: r.channel ?? "none", state: r.status });
    };
  }

  private now(): Date {
    return this.d.clock.now();
  }

  private async run<I extends object>(def: T.TransitionDef<I>, items: (I & { id: string; at: string })[]): Promise<(T.Changed | null)[]> {
    return T.resultsById(items, await T.apply(this.d.db.db, def, items, this.observe));
  }

  /** One row through a transition, now. Group-committed with other rows' when `batched` (the hot paths). */
  private async step<I extends object>(def: T.TransitionDef<I>, id: string, input: I, batched = false): Promise<T.Changed | null> {
    const item = { ...input, id, at: iso(this.now()) };
    if (!batched) return (await this.run(def, [item]))[0] ?? null;
    let w = this.writers.get(def as T.TransitionDef<object>);
    if (!w) {
      w = new BatchWriter((items) => this.run(def as T.TransitionDef<object>, items as (object & { id: string; at: string })[]), {
        maxParallel: 2,
        maxBatch: 250,
      });
      this.writers.set(def as T.TransitionDef<object>, w);
    }
    return w.submit(item);
  }

  async process(row: ClaimedRow): Promise<void> {
    try {
      let r: NotificationRow = row;
      if (r.status === "accepted") {
        const next = await this.decide(row);
        if (!next) return;
        if (next.prepared) return await this.attempt(next.row, next.prepared);
        r = next.row;
      }
      switch (r.status) {
        case "queued":
          return await this.attempt(r, null);
        case "sent":
          return await this.checkWaiting(r);
        case "fallback_sms":
          return await this.attempt(r, null, true);
        default:
          await this.step(T.nothingDue, r.id, {});
      }
    } catch (err) {
      this.d.logger.error({ err, notificationId: row.id }, "notify worker: step failed; retrying later");
      const at = new Date(this.now().getTime() + 30_000);
      await this.step(T.stepFailed, row.id, { due_at: iso(at), error: String(err instanceof Error ? err.message : err).slice(0, 500) }).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- routing

  /**
   * The route decision at send time (the routing policy, docs/routing.md), with the friend state as it is now. For a
   * push, what must be committed before the first call (the retry key) goes in the same write, after the rate token
   * was taken, so the call follows at once. For a PNP the write (route + sent-marker) is handed to the sender as
   * `commit`: it runs once the request is on the wire but for its last byte (docs/states.md, "crash window").
   */
  private async decide(r: ClaimedRow): Promise<{ row: NotificationRow; prepared: Prepared | null } | null> {
    const prev = route(r)?.inputs;
    if (!prev) {
      await this.step(T.giveUp, r.id, {
        state: "failed",
        reason: "no route inputs stored",
        clear_pnp: false,
        clear_sms: false,
        detail: { reason: "no route inputs stored" },
      });
      return null;
    }
    const lineUserId = r.memberLineUserId;
    const inputs = {
      ...prev,
      lineUserId,
      friend: Boolean(lineUserId && r.memberFriend),
      memberFound: r.memberFound || prev.memberFound,
      blocked: Boolean(lineUserId && r.memberBlocked),
      lineConsentWithdrawnAt: r.memberLineWithdrawnAt,
      scenarioApproved: r.scenarioApproved,
    };
    const now = this.now();
    const decision = decideRoute(inputs, now, "dispatch");
    if (decision.channel === "none") {
      await this.step(T.noRoute, r.id, { route: decision, detail: { rule: decision.rule, reason: decision.reason } });
      return null;
    }
    const { deadline, quiet } = fallbackSmsDue(now, decision, inputs.urgency, this.d.quietHours ?? null);
    const retryKey = decision.channel === "push" || decision.parallelPush ? randomUUID() : null;
    const deliveryTag = decision.channel === "pnp" ? deliveryTagFor(r.id) : null;
    const routed: NotificationRow = { ...r, channel: decision.channel, route: decision, lineUserId };
    const queueInput = (markerAt: string | null) => ({
      channel: decision.channel,
      route: decision,
      line_user_id: lineUserId,
      sms_deadline_at: deadline ? iso(deadline) : null,
      detail: { channel: decision.channel, rule: decision.rule, smsDeadlineAt: deadline ? iso(deadline) : null },
      retry_key: retryKey,
      tag: deliveryTag,
      marker_at: markerAt,
      quiet,
    });
    const queued: NotificationRow = { ...routed, status: "queued", smsDeadlineAt: deadline, deliveryTag: deliveryTag ?? r.deliveryTag };
    if (decision.channel === "pnp") {
      const commit = async () => Boolean(await this.step(T.queue, r.id, queueInput(iso(this.now())), true));
      return { row: queued, prepared: { deliveryTag: deliveryTag!, commit } };
    }
    if (retryKey) await this.d.buckets.push.take();
    const changed = await this.step(T.queue, r.id, queueInput(null), true);
    if (!changed) return null;
    const row: NotificationRow = { ...queued, retryKey: changed.retryKey };
    if (decision.channel === "push") return { row, prepared: { retryKey: changed.retryKey! } };
    if (decision.parallelPush) await this.parallelPush(row, changed.retryKey!);
    return { row, prepared: null };
  }

  private bucket(r: NotificationRow): RateGate {
    const e = senders[r.channel as Channel].endpoint(r);
    return this.d.buckets[e === "sms" ? "push" : e];
  }

  /**
   * `minutes` to a friend: one push beside the SMS, made once, before it (the SMS is the channel of record; the push
   * outcome is a timeline entry). Not retried, so it never delays the SMS; its retry key is committed like any push.
   */
  private async parallelPush(r: NotificationRow, retryKey: string): Promise<void> {
    const out = await senders.push.send(this.d.ctx, { row: r, retryKey });
    this.d.counts.push++;
    const ok = out.kind === "accepted";
    await this.step(T.parallelPush, r.id, {
      state: ok ? "push_sent" : "push_failed",
      detail: ok ? { ...out.detail, parallel: true } : { channel: "push", parallel: true, error: "reason" in out ? out.reason : out.kind },
    });
  }

  // ---------------------------------------------------------------- one call

  /**
   * A call on the row's channel (or the SMS fallback): the marker first (unless `prepared` committed it with the
   * route), then the sender, then its outcome. A marker left by an earlier call whose outcome was never recorded
   * (a crash) means that call may have gone out: a channel that cannot repeat safely settles it as sent instead.
   */
  private async attempt(r: NotificationRow, prepared: Prepared | null, fallback = false): Promise<void> {
    const channel: Channel = fallback ? "sms" : (r.channel as Channel);
    const sender = senders[channel];
    if (!sender)
      return void (await this.step(T.giveUp, r.id, {
        state: "undeliverable",
        reason: "no channel",
        clear_pnp: false,
        clear_sms: false,
        detail: { reason: "no channel" },
      }));
    let job: SendJob = { row: r, fallback, ...prepared };
    if (channel === "sms") {
      if (fallback && (r.deliveredAt || r.seenAt)) {
        await this.step(T.smsCalledOff, r.id, { reason: r.deliveredAt ? "delivery event" : "next-step page opened", by_view: !r.deliveredAt });
        return;
      }
      if (!r.phoneE164)
        return void (await this.step(T.giveUp, r.id, {
          state: "undeliverable",
          reason: "no phone number for SMS",
          clear_pnp: false,
          clear_sms: false,
          detail: { reason: "no phone number for SMS" },
        }));
      if (r.smsCallStartedAt && !r.smsSentAt && !sender.repeatable(this.d.ctx)) {
        return this.record("sms", r, { kind: "unknown", reason: "an earlier SMS call's outcome is unknown; not resent" });
      }
      if (!r.smsCallStartedAt && !(await this.step(T.markSmsCall, r.id, {}))) {
        // A delivery or page view won the race: the next claim settles it.
        await this.step(T.stepFailed, r.id, { due_at: iso(this.now()), error: null });
        return;
      }
    } else if (channel === "pnp") {
      if (!prepared && r.pnpCallStartedAt) {
        return this.record("pnp", r, { kind: "unknown", reason: "an earlier call's outcome is unknown; never resent (no retry key for PNP)" }, true);
      }
      // The marker is committed by the sender, between sending the request and completing it (pnp.ts).
      const tag = prepared?.deliveryTag ?? deliveryTagFor(r.id);
      const commit = prepared?.commit ?? (async () => Boolean(await this.step(T.markPnpCall, r.id, { tag }, true)));
      await this.bucket(r).take();
      job = { ...job, deliveryTag: tag, commit };
    } else if (!prepared) {
      if (!r.retryKey) {
        // Committed before the first call, so every later attempt (after a crash too) repeats the same key.
        const marked = await this.step(T.markPushKey, r.id, { key: randomUUID() }, true);
        if (!marked?.retryKey) return;
        job = { ...job, retryKey: marked.retryKey };
      } else job = { ...job, retryKey: r.retryKey };
      await this.bucket(r).take();
    }
    const outcome = await sender.send(this.d.ctx, job);
    if (outcome.kind === "withdrawn") return;
    this.d.counts[sender.endpoint(r)]++;
    await this.record(channel, r, outcome);
  }

  // ---------------------------------------------------------------- outcomes

  /** What an outcome means for the row, by channel (docs/states.md). `recovered`: found after a crash, not called now. */
  private async record(channel: Channel, r: NotificationRow, out: Outcome, recovered = false): Promise<void> {
    if (out.kind === "withdrawn") return;
    const now = this.now();
    if (out.kind === "accepted") {
      if (channel === "push") {
        const by = out.detail["status"] === 409 ? "push_409_retry_key_already_accepted" : "push_200";
        await this.step(T.pushDelivered, r.id, { sent: out.detail, delivered: { by, acceptedRequestId: out.detail["acceptedRequestId"] ?? null } }, true);
      } else if (channel === "pnp") {
        await this.step(
          T.pnpSent,
          r.id,
          { due_at: iso(waitDue(r, now, null)), sent_at: iso(now), attempt: 1, error: null, detail: out.detail, resend_at: null },
          true,
        );
        await matchStoredDelivery(this.d.db, String(out.detail["deliveryTag"]), this.observe);
      } else {
        const parts = Number(out.detail["parts"]) || smsFor(this.d.ctx, r, Boolean(out.detail["fallback"])).parts;
        await this.step(T.smsSent, r.id, { sent_at: iso(now), reference: out.reference ?? null, error: null, detail: out.detail, parts });
      }
      return;
    }
    if (out.kind === "unknown" && channel === "pnp") {
      const sentAt = recovered ? (r.pnpCallStartedAt ?? now) : now;
      // At-least-once (opt-in): one more call if no delivery event comes within the grace period; else at most once.
      const policy = this.d.pnpResendAfterSeconds;
      const resendAt = policy > 0 && !r.pnpResentAt ? new Date(Math.max(sentAt.getTime() + policy * 1000, now.getTime())) : null;
      const then = resendAt
        ? `called once more at ${iso(resendAt)} unless a delivery event arrives (PNP_RESEND_AFTER_SECONDS)`
        : "never resent, waiting for the delivery event";
      await this.step(T.pnpSent, r.id, {
        due_at: iso(waitDue(r, sentAt, resendAt)),
        sent_at: iso(sentAt),
        attempt: recovered ? 0 : 1,
        error: recovered ? r.lastError : out.reason.slice(0, 500),
        detail: { channel: "pnp", ambiguous: true, reason: `${out.reason}; ${then}`, ...(resendAt ? { resendAt: iso(resendAt) } : {}) },
        resend_at: resendAt ? iso(resendAt) : null,
      });
      return;
    }
    if (out.kind === "unknown" && channel === "sms" && !senders.sms.repeatable(this.d.ctx)) {
      await this.step(T.smsSent, r.id, {
        parts: smsFor(this.d.ctx, r, r.status === "fallback_sms").parts,
        sent_at: iso(r.smsCallStartedAt ?? now),
        reference: null,
        error: recovered ? r.lastError : out.reason.slice(0, 500),
        detail: { provider: this.d.ctx.sms.name, ambiguous: true, reason: recovered ? out.reason : `${out.reason}; not resent` },
      });
      return;
    }
    if (out.kind === "refused") {
      if (channel === "sms")
        return void (await this.step(T.giveUp, r.id, {
          state: "failed",
          reason: out.reason.slice(0, 500),
          clear_pnp: false,
          clear_sms: false,
          detail: { reason: out.reason, provider: this.d.ctx.sms.name },
        }));
      if (out.quota) return this.reroute(r, channel, out.reason);
      return this.lineLegOver(r, out.reason, out.unreachable ? "undeliverable" : "failed", false);
    }
    // retry, or unknown on a channel that may repeat (push with its key, SMS with a deduping provider)
    const clear = { clear_pnp: channel === "pnp", clear_sms: channel === "sms" && out.kind === "retry" };
    if (out.kind === "retry" && out.rateLimited) {
      // Rate limit: not this notification's fault; wait as LINE asks, without spending an attempt, and hold the
      // whole endpoint back for that long (other due rows would only collect 429s too).
      const wait = out.retryAfterSeconds ?? this.backoffSeconds(r.attempts);
      if (out.retryAfterSeconds != null && this.d.maxRatePauseMs > 0 && channel !== "sms")
        this.bucket(r).pause(Math.min(out.retryAfterSeconds * 1000, this.d.maxRatePauseMs));
      return this.retryLater(r, wait, out.reason, 0, clear);
    }
    if (r.attempts + 1 >= this.d.maxAttempts) {
      const reason = `${out.reason} (gave up after ${r.attempts + 1} attempts)`;
      if (channel === "sms")
        return void (await this.step(T.giveUp, r.id, { state: "failed", reason: reason.slice(0, 500), clear_pnp: false, clear_sms: true, detail: { reason } }));
      return this.lineLegOver(r, reason, "failed", clear.clear_pnp);
    }
    return this.retryLater(r, this.backoffSeconds(r.attempts), out.reason, 1, clear);
  }

  /** Exponential backoff with full jitter, 1 s base, capped at 10 min. */
  private backoffSeconds(attempts: number): number {
    const cap = Math.min(600, 2 ** Math.min(attempts, 10));
    return Math.max(0.5, Math.random() * cap);
  }

  private async retryLater(
    r: NotificationRow,
    seconds: number,
    reason: string,
    attempt: 0 | 1,
    clear: { clear_pnp: boolean; clear_sms: boolean },
  ): Promise<void> {
    const at = new Date(this.now().getTime() + Math.ceil(seconds * 1000));
    await this.step(T.retryLater, r.id, {
      due_at: iso(at),
      reason: reason.slice(0, 500),
      attempt,
      ...clear,
      detail: { reason, retryAt: iso(at), attempt: r.attempts + attempt },
    });
  }

  /** The LINE leg is over without a send: SMS now if this notification may use it, else the given final state. */
  private async lineLegOver(r: NotificationRow, reason: string, finalState: "failed" | "undeliverable", clearPnp: boolean): Promise<void> {
    const inputs = route(r)!.inputs;
    if (smsAllowed(inputs)) {
      // SMS now, unless now is in the quiet hours: then at their end.
      const { deadline, quiet } = fallbackSmsDue(this.now(), { channel: "line", smsAfterSeconds: 0 }, inputs.urgency, this.d.quietHours ?? null);
      await this.step(T.lineToSms, r.id, {
        reason: reason.slice(0, 500),
        clear_pnp: clearPnp,
        detail: { reason },
        due_at: quiet ? iso(deadline!) : null,
        quiet,
      });
      return;
    }
    await this.step(T.giveUp, r.id, { state: finalState, reason: reason.slice(0, 500), clear_pnp: clearPnp, clear_sms: false, detail: { reason } });
  }

  private async reroute(r: NotificationRow, from: Channel, reason: string): Promise<void> {
    const decision: RouteDecision = { ...decideRoute(route(r)!.inputs, this.now(), "reroute", [from]), reroutedFrom: from };
    if (decision.channel === "none") {
      await this.step(T.rerouteNowhere, r.id, { route: decision, reason, detail: { from, to: "none", reason }, undeliverable: { reason: decision.reason } });
      return;
    }
    await this.step(T.reroute, r.id, {
      channel: decision.channel,
      route: decision,
      reason,
      detail: { from, to: decision.channel, reason, rule: decision.rule },
    });
  }

  // ---------------------------------------------------------------- waiting for a PNP's delivery event (waiting.ts)

  private checkWaiting(r: NotificationRow): Promise<void> {
    return checkWaiting(
      {
        now: () => this.now(),
        step: (def, id, input) => this.step(def, id, input),
        attempt: (row, prepared, fallback) => this.attempt(row, prepared, fallback),
      },
      r,
    );
  }
}
