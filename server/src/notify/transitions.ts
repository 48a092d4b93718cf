import { type SQL, sql } from "@oa-notify/db";
import { PNP_WINDOW_SECONDS } from "./input.ts";
import { define } from "./state-engine.ts";

/*
 * The notification state machine (docs/states.md): every change of `notifications.status`, and every timeline entry,
 * is one of the transitions below. Each one is a single SQL statement over a set of rows (one row or a group
 * committed together): the guard (the states it may leave, plus its own condition), the update, and the timeline
 * entries, so a transition and its timeline commit together or not at all. It returns the rows it changed; a row the
 * guard refused is simply absent (another worker, a delivery event or a cancel got there first).
 *
 * In `set`/`guard`, `n` is the notification as it was and `x` the caller's input row; in `events`, `upd` is the
 * notification as it now is (the engine that runs them: state-engine.ts). docs/states.md is generated from these definitions (pnpm docs:states) and a test
 * keeps the two equal.
 */

export { apply, type Changed, resultsById, type TransitionDef, type TransitionObserver, transitionDefs } from "./state-engine.ts";

export * from "./transitions-route.ts";

// ------------------------------------------------------------------------------------------------ call outcomes: LINE

export const pushDelivered = define<{ sent: unknown; delivered: unknown }>({
  name: "pushDelivered",
  when: "LINE answered a push with 200, or 409 (its retry key was already accepted)",
  from: ["queued"],
  to: ["delivered"],
  timeline: ["sent", "delivered"],
  input: { sent: "jsonb", delivered: "jsonb" },
  set: sql`status = 'delivered', sent_at = x.at, delivered_at = x.at, due_at = null, attempts = n.attempts + 1, last_error = null`,
  events: sql`(1, 'sent', x.sent), (2, 'delivered', x.delivered)`,
});

export const parallelPush = define<{ state: string; detail: unknown }>({
  name: "parallelPush",
  when: "`minutes` to a friend: the push beside the SMS went out (or failed); the SMS is the channel of record",
  from: ["queued"],
  to: "same",
  timeline: ["push_sent", "push_failed"],
  input: { state: "text", detail: "jsonb" },
  set: sql`last_error = n.last_error`,
  events: sql`(1, x.state, x.detail)`,
});

/**
 * A PNP is `sent` when LINE accepted it, or when the call's outcome is unknown (then it is not repeated, unless the
 * at-least-once policy schedules its one resend: `resend_at`, see `pnpResend`).
 */
export const pnpSent = define<{ due_at: string | null; sent_at: string; attempt: number; error: string | null; detail: unknown; resend_at: string | null }>({
  name: "pnpSent",
  when: "LINE accepted a PNP (2xx), or the call's outcome is unknown (timeout, crash): wait for the delivery event",
  from: ["queued", "sent", "delivered"],
  to: ["sent", "delivered"],
  timeline: ["sent"],
  input: { due_at: "timestamptz", sent_at: "timestamptz", attempt: "int", error: "text", detail: "jsonb", resend_at: "timestamptz" },
  set: sql`status = case when n.status = 'queued' and n.delivered_at is null then 'sent' else n.status end,
    sent_at = coalesce(x.sent_at, n.sent_at), attempts = n.attempts + x.attempt, last_error = x.error,
    due_at = case when n.delivered_at is null then x.due_at else null end,
    pnp_resend_at = case when n.pnp_resent_at is null and n.delivered_at is null then x.resend_at else null end`,
  events: sql`(1, 'sent', x.detail)`,
});

/**
 * At-least-once PNP (opt-in, PNP_RESEND_AFTER_SECONDS; docs/states.md): an ambiguous PNP with no delivery event and
 * no page view by its resend time is called once more, with the same delivery tag. Once: `pnp_resent_at` is set here
 * and `pnpSent` never schedules another. The old marker is cleared; the new call commits its own (`markPnpCall`).
 */
export const pnpResend = define<{ detail: unknown }>({
  name: "pnpResend",
  when: "at-least-once policy: an ambiguous PNP has had no delivery event for PNP_RESEND_AFTER_SECONDS: call it once more",
  from: ["sent"],
  to: ["queued"],
  timeline: ["pnp_resend"],
  input: { detail: "jsonb" },
  guard: sql`n.delivered_at is null and n.seen_at is null and n.pnp_resent_at is null and n.pnp_resend_at is not null and n.pnp_resend_at <= x.at`,
  set: sql`status = 'queued', pnp_resent_at = x.at, pnp_resend_at = null, pnp_call_started_at = null`,
  events: sql`(1, 'pnp_resend', x.detail)`,
});

/** Surely not sent (429, 5xx, no connection): try again later, keeping or clearing the call's marker. */
export const retryLater = define<{ due_at: string; reason: string; attempt: number; clear_pnp: boolean; clear_sms: boolean; detail: unknown }>({
  name: "retryLater",
  when: "a call surely did not go out (429 with Retry-After, 5xx, connection never made): try again at due_at",
  from: ["queued", "fallback_sms"],
  to: "same",
  timeline: ["retry_scheduled"],
  input: { due_at: "timestamptz", reason: "text", attempt: "int", clear_pnp: "boolean", clear_sms: "boolean", detail: "jsonb" },
  set: sql`due_at = x.due_at, last_error = x.reason, attempts = n.attempts + x.attempt,
    pnp_call_started_at = case when x.clear_pnp then null else n.pnp_call_started_at end,
    sms_call_started_at = case when x.clear_sms then null else n.sms_call_started_at end`,
  events: sql`(1, 'retry_scheduled', x.detail)`,
});

/** The LINE leg is over without a send (422, 4xx, retries exhausted) and SMS is allowed. */
export const lineToSms = define<{ reason: string; clear_pnp: boolean; detail: unknown; due_at: string | null; quiet: unknown }>({
  name: "lineToSms",
  when: "the LINE leg ended without a send (PNP 422, a 4xx, retries exhausted) and SMS is allowed: SMS now (or at the end of the quiet hours)",
  from: ["queued"],
  to: ["fallback_sms"],
  timeline: ["fallback_sms", "sms_quiet_hours"],
  input: { reason: "text", clear_pnp: "boolean", detail: "jsonb", due_at: "timestamptz", quiet: "jsonb" },
  set: sql`status = 'fallback_sms', attempts = 0, last_error = x.reason, due_at = coalesce(x.due_at, x.at),
    pnp_call_started_at = case when x.clear_pnp then null else n.pnp_call_started_at end`,
  events: sql`(1, 'fallback_sms', x.detail), (2, case when x.quiet is not null and x.quiet <> 'null'::jsonb then 'sms_quiet_hours' end, x.quiet)`,
});

/** Nothing more can be done: `failed` (with its reason) or `undeliverable`. */
export const giveUp = define<{ state: string; reason: string; clear_pnp: boolean; clear_sms: boolean; detail: unknown }>({
  name: "giveUp",
  when: "a leg ended without a send and no fallback is allowed, an SMS was refused, or retries ran out",
  from: ["accepted", "queued", "fallback_sms"],
  to: ["failed", "undeliverable"],
  timeline: ["failed", "undeliverable"],
  input: { state: "text", reason: "text", clear_pnp: "boolean", clear_sms: "boolean", detail: "jsonb" },
  set: sql`status = x.state, last_error = x.reason, due_at = null,
    pnp_call_started_at = case when x.clear_pnp then null else n.pnp_call_started_at end,
    sms_call_started_at = case when x.clear_sms then null else n.sms_call_started_at end`,
  events: sql`(1, x.state, x.detail)`,
});

// ------------------------------------------------------------------------------------------------ waiting for LINE

export const deadlinePassed = define<{ detail: unknown }>({
  name: "deadlinePassed",
  when: "the SMS deadline passed with no delivery event and no page view",
  from: ["sent"],
  to: ["fallback_sms"],
  timeline: ["fallback_sms"],
  input: { detail: "jsonb" },
  // sms_deadline_at: the cancel API may have called the SMS off since the row was claimed.
  guard: sql`n.delivered_at is null and n.seen_at is null and n.sms_deadline_at is not null and n.sms_call_started_at is null`,
  set: sql`status = 'fallback_sms', attempts = 0`,
  events: sql`(1, 'fallback_sms', x.detail)`,
});

export const settleDelivered = define<object>({
  name: "settleDelivered",
  when: "a worker finds a sent notice already delivered (its delivery event wrote the timeline)",
  from: ["sent"],
  to: ["delivered"],
  timeline: [],
  input: {},
  guard: sql`n.delivered_at is not null`,
  set: sql`status = 'delivered', due_at = null`,
});

export const settleSeen = define<{ sms_pending: boolean; seen: unknown }>({
  name: "settleSeen",
  when: "the recipient opened the next-step page of a sent notice: it reached them; a pending SMS is called off",
  from: ["sent"],
  to: ["delivered"],
  timeline: ["sms_cancelled", "delivered"],
  input: { sms_pending: "boolean", seen: "jsonb" },
  guard: sql`n.delivered_at is null`,
  set: sql`status = 'delivered', due_at = null, sms_deadline_at = null`,
  events: sql`(1, case when x.sms_pending then 'sms_cancelled' end, '{"reason":"next-step page opened"}'::jsonb), (2, 'delivered', x.seen)`,
});

export const windowExpired = define<object>({
  name: "windowExpired",
  when: "24 h after a PNP without a delivery event, and no SMS allowed",
  from: ["sent"],
  to: ["undelivered"],
  timeline: ["undelivered"],
  input: {},
  guard: sql`n.delivered_at is null`,
  set: sql`status = 'undelivered', due_at = null`,
  events: sql`(1, 'undelivered', '{"reason":"no delivery event within 24 h and no SMS"}'::jsonb)`,
});

export const waitUntil = define<{ due_at: string }>({
  name: "waitUntil",
  when: "still waiting for the delivery event: look again at the SMS deadline or the end of the 24 h window",
  from: ["sent"],
  to: "same",
  timeline: [],
  input: { due_at: "timestamptz" },
  set: sql`due_at = x.due_at`,
});

// ------------------------------------------------------------------------------------------------ call outcomes: SMS

/** The SMS went out (or its call's outcome is unknown and this provider cannot dedupe a repeat). */
export const smsSent = define<{ sent_at: string; reference: string | null; error: string | null; detail: unknown; parts: number }>({
  name: "smsSent",
  when: "the SMS provider accepted, or the call's outcome is unknown and a repeat could double it",
  from: ["queued", "fallback_sms"],
  to: ["sms_sent", "delivered_late"],
  timeline: ["sms_sent", "delivered_late"],
  input: { sent_at: "timestamptz", reference: "text", error: "text", detail: "jsonb", parts: "int" },
  set: sql`status = case when n.delivered_at is not null then 'delivered_late' else 'sms_sent' end,
    sms_sent_at = x.sent_at, sms_parts = x.parts, sms_reference = coalesce(x.reference, n.sms_reference), due_at = null, last_error = x.error`,
  events: sql`(1, 'sms_sent', x.detail),
    (2, case when upd.status = 'delivered_late' then 'delivered_late' end, '{"by":"delivery event during the SMS call"}'::jsonb)`,
});

export const smsCalledOff = define<{ reason: string; by_view: boolean }>({
  name: "smsCalledOff",
  when: "a fallback SMS is due but the notice was delivered or its page opened meanwhile",
  from: ["fallback_sms"],
  to: ["delivered"],
  timeline: ["sms_cancelled", "delivered"],
  input: { reason: "text", by_view: "boolean" },
  set: sql`status = 'delivered', due_at = null`,
  events: sql`(1, 'sms_cancelled', json_build_object('reason', x.reason)::jsonb),
    (2, case when x.by_view then 'delivered' end, '{"by":"next_step_page_view"}'::jsonb)`,
});

// ------------------------------------------------------------------------------------------------ from outside the worker

/** A PNP `delivery` event for our tag (webhook). Late after an SMS: `delivered_late`, both channels charged. */
export const deliveryReceived = define<{ detail: unknown }>({
  name: "deliveryReceived",
  when: "LINE's delivery webhook event names our delivery tag (a pending SMS is called off)",
  match: "tag",
  from: "any",
  // A notice already settled otherwise (failed, undeliverable, cancelled) keeps its state: the event is recorded.
  to: ["delivered", "delivered_late", "fallback_sms", "failed", "undeliverable", "cancelled"],
  timeline: ["delivered", "delivered_late", "delivery_received"],
  input: { detail: "jsonb" },
  guard: sql`n.delivered_at is null`,
  // An SMS call in flight (fallback_sms with its marker) is left to the worker, which records delivered_late.
  set: sql`delivered_at = x.at,
    status = case
      when n.status = 'sms_sent' then 'delivered_late'
      when n.status = 'fallback_sms' and n.sms_call_started_at is not null then n.status
      when n.status in ('accepted', 'queued', 'sent', 'fallback_sms', 'undelivered') then 'delivered'
      else n.status end,
    due_at = case
      when n.status = 'fallback_sms' and n.sms_call_started_at is not null then n.due_at
      when n.status in ('queued', 'sent', 'fallback_sms', 'undelivered') then null
      else n.due_at end`,
  events: sql`(1, case when upd.status in ('delivered', 'delivered_late') then upd.status else 'delivery_received' end, x.detail)`,
});

export const seen = define<object>({
  name: "seen",
  when: "the recipient opened the notice's next-step page (first view only)",
  from: "any",
  to: "same",
  timeline: ["seen"],
  input: {},
  guard: sql`n.seen_at is null`,
  // A PNP waiting for its delivery event is made due now, so the worker settles it (delivered, SMS called off).
  // Only `sent`: such a row is not mid-call, so making it due cannot race a send.
  set: sql`seen_at = x.at, due_at = case when n.status = 'sent' and n.due_at is not null then least(n.due_at, x.at) else n.due_at end`,
  events: sql`(1, 'seen', '{"by":"next_step_page"}'::jsonb)`,
});

/**
 * Cancel (API), race-safe in one statement under the row lock: every send first commits its own marker under a
 * guard on the state, so whichever commits first wins. Nothing sent yet → cancelled. LINE sent and only the SMS
 * fallback pending → the SMS is called off and the notice goes back to waiting for LINE (`sent`); a fallback pending
 * after a LINE leg that sent nothing → cancelled. notify/cancel.ts explains a refusal.
 */
export const cancel = define<{ detail: unknown }>({
  name: "cancel",
  when: "the backend cancels: before anything went out, or while only the SMS fallback is pending",
  from: ["accepted", "queued", "sent", "fallback_sms"],
  to: ["cancelled", "sent"],
  timeline: ["sms_cancelled", "cancelled"],
  input: { detail: "jsonb" },
  previous: true,
  guard: sql`((${nothingSent()}) or (${smsPendingAfterLine()}) or (${fallbackNotStarted()}))`,
  set: sql`status = case when ${nothingSent()} then 'cancelled'
                         when ${fallbackNotStarted()} and n.sent_at is null then 'cancelled'
                         when ${fallbackNotStarted()} then 'sent'
                         else n.status end,
    -- Back to waiting for the delivery event: settled at the 24 h mark (at once when the page was already opened).
    due_at = case when not ((${smsPendingAfterLine()}) or ((${fallbackNotStarted()}) and n.sent_at is not null)) then null
                  when n.seen_at is not null then x.at
                  else n.sent_at + make_interval(secs => ${PNP_WINDOW_SECONDS}) end,
    sms_deadline_at = null`,
  events: sql`(1, case when upd.prev in ('accepted', 'queued') then null else 'sms_cancelled' end, x.detail),
    (2, case when upd.status = 'cancelled' then 'cancelled' end, x.detail)`,
});
function nothingSent(): SQL {
  return sql`n.status in ('accepted', 'queued') and n.retry_key is null and n.pnp_call_started_at is null
    and n.sms_call_started_at is null and n.sent_at is null and n.sms_sent_at is null`;
}
function smsPendingAfterLine(): SQL {
  return sql`n.status = 'sent' and n.sms_deadline_at is not null and n.sms_call_started_at is null and n.delivered_at is null`;
}
function fallbackNotStarted(): SQL {
  return sql`n.status = 'fallback_sms' and n.sms_call_started_at is null and n.delivered_at is null`;
}

// ------------------------------------------------------------------------------------------------ housekeeping

export const stepFailed = define<{ due_at: string; error: string | null }>({
  name: "stepFailed",
  when: "a worker step threw (database hiccup, bug), or lost a race it must look at again: look again at due_at",
  from: "any",
  to: "same",
  timeline: [],
  input: { due_at: "timestamptz", error: "text" },
  set: sql`due_at = x.due_at, last_error = coalesce(x.error, n.last_error)`,
});

export const nothingDue = define<object>({
  name: "nothingDue",
  when: "a worker claimed a row that is already settled (a delivery event got there first)",
  from: ["delivered", "sms_sent", "delivered_late", "undelivered", "undeliverable", "failed", "cancelled"],
  to: "same",
  timeline: [],
  input: {},
  set: sql`due_at = null`,
});
