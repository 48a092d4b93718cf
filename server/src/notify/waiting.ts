import { type Database, sql } from "@oa-notify/db";
import type { NotificationRow } from "./channels/index.ts";
import { PNP_WINDOW_SECONDS } from "./input.ts";
import * as T from "./transitions.ts";

/**
 * A PNP that LINE accepted waits for its `delivery` webhook event (docs/states.md, "Transitions"): until then the
 * worker looks at it again at the earliest of its SMS deadline, the end of LINE's 24-hour window and, with the
 * at-least-once policy, its resend time. Used by the dispatcher (dispatch.ts).
 */

const iso = (d: Date) => d.toISOString();

/** While waiting for the `delivery` event: the SMS deadline, or the end of LINE's 24-hour window. */
export function waitDue(r: NotificationRow, sentAt: Date, resendAt: Date | null): Date {
  const windowEnd = sentAt.getTime() + PNP_WINDOW_SECONDS * 1000;
  const deadline = r.smsDeadlineAt && !r.smsCallStartedAt ? r.smsDeadlineAt.getTime() : Infinity;
  return new Date(Math.min(windowEnd, deadline, resendAt ? resendAt.getTime() : Infinity));
}

/** A delivery event stored (and processed) before this PNP's outcome was recorded is matched now. */
export async function matchStoredDelivery(db: Database, tag: string, observe: T.TransitionObserver): Promise<void> {
  const early = await db.query<{ at: Date | string }>(sql`
    select coalesce(event_timestamp, received_at) as at from webhook_events
    where type = 'delivery' and (event->'delivery'->>'data') = ${tag} order by id limit 1`);
  const e = early[0];
  if (e)
    await T.apply(
      db.db,
      T.deliveryReceived,
      [{ tag, at: new Date(e.at).toISOString(), detail: { by: "delivery_webhook", tag, matched: "from_inbox_after_send" } }],
      observe,
    );
}

/** What the dispatcher lends the waiting step: its clock, one transition now, and a send attempt. */
export interface WaitingContext {
  now(): Date;
  step<I extends object>(def: T.TransitionDef<I>, id: string, input: I): Promise<T.Changed | null>;
  attempt(r: NotificationRow, prepared: null, fallback?: boolean): Promise<void>;
}

/** A sent PNP claimed again: delivered, seen, SMS deadline passed, resend due, window over, or wait on. */
export async function checkWaiting(ctx: WaitingContext, r: NotificationRow): Promise<void> {
  const now = ctx.now();
  if (r.deliveredAt) return void (await ctx.step(T.settleDelivered, r.id, {}));
  const smsPending = Boolean(r.smsDeadlineAt && !r.smsCallStartedAt);
  if (r.seenAt) {
    // The recipient opened the next-step page from the LINE message: it reached them; no SMS.
    await ctx.step(T.settleSeen, r.id, { sms_pending: smsPending, seen: { by: "next_step_page_view", seenAt: iso(r.seenAt) } });
    return;
  }
  if (smsPending && now >= r.smsDeadlineAt!) {
    const ok = await ctx.step(T.deadlinePassed, r.id, { detail: { reason: "no delivery event before the SMS deadline", deadline: iso(r.smsDeadlineAt!) } });
    if (ok) await ctx.attempt({ ...r, status: "fallback_sms", attempts: 0 }, null, true);
    return;
  }
  if (r.pnpResendAt && !r.pnpResentAt && now >= r.pnpResendAt) {
    const ok = await ctx.step(T.pnpResend, r.id, {
      detail: { reason: "no delivery event since an ambiguous call (at-least-once policy)", tag: r.deliveryTag, resendAt: iso(r.pnpResendAt) },
    });
    if (ok) await ctx.attempt({ ...r, status: "queued", pnpCallStartedAt: null, pnpResendAt: null, pnpResentAt: now }, null);
    return;
  }
  const sentAt = r.sentAt ?? r.pnpCallStartedAt ?? r.createdAt;
  if (now.getTime() >= sentAt.getTime() + PNP_WINDOW_SECONDS * 1000) return void (await ctx.step(T.windowExpired, r.id, {}));
  await ctx.step(T.waitUntil, r.id, { due_at: iso(waitDue(r, sentAt, r.pnpResentAt ? null : r.pnpResendAt)) });
}
