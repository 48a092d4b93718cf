import { sql, type Database } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { PNP_WINDOW_SECONDS } from "./input.ts";

export type CancelResult =
  | { ok: true; cancelled: "notification" | "sms_fallback"; status: string; already?: true }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "conflict"; status: string; message: string; wentOut: string[] };

/**
 * Cancel a notification (product.md §4 `cancelled`), in ONE conditional UPDATE under the row lock, so it is
 * race-safe against a worker that claimed the row at the same moment: every send first commits its own marker
 * under a guard on the state (route decision `status = 'accepted'`, push retry key and PNP sent-marker
 * `status = 'queued'`, SMS marker `status in ('queued','fallback_sms')`, fallback transition
 * `sms_deadline_at is not null`). Whichever commits first wins; the loser sees the other's state.
 * - nothing sent yet (no retry key, no PNP marker, no SMS marker) → `cancelled`, never sent;
 * - LINE already sent, only the SMS fallback pending → the SMS is called off (`sms_cancelled`), the LINE state kept;
 *   a fallback pending after a LINE leg that failed (nothing went out) → `cancelled`;
 * - anything in flight or done → conflict, saying what already went out.
 * A repeated cancel answers as the first did (`already`).
 */
export async function cancelNotification({ db, clock, id, by }: { db: Database; clock: Clock; id: string; by: string }): Promise<CancelResult> {
  const now = clock.now().toISOString();
  const detail = JSON.stringify({ reason: "cancelled by API", by: "api", apiKeyId: by });
  const nothingSent = sql`n.status in ('accepted', 'queued') and n.retry_key is null and n.pnp_call_started_at is null
    and n.sms_call_started_at is null and n.sent_at is null and n.sms_sent_at is null`;
  // LINE is out when a send was recorded (an ambiguous PNP call is recorded as sent too); a PNP answered with an
  // error (422) keeps its marker but went nowhere.
  const lineOut = sql`n.sent_at is not null`;
  const smsPendingAfterLine = sql`n.status = 'sent' and n.sms_deadline_at is not null and n.sms_call_started_at is null and n.delivered_at is null`;
  const fallbackNotStarted = sql`n.status = 'fallback_sms' and n.sms_call_started_at is null and n.delivered_at is null`;
  const rows = await db.query<{ prev: string; status: string }>(sql`
    with cur as (select id, status from notifications where id = ${id} for update),
    upd as (
      update notifications n set
        status = case when ${nothingSent} then 'cancelled'
                      when ${fallbackNotStarted} and not (${lineOut}) then 'cancelled'
                      when ${fallbackNotStarted} then 'sent'
                      else n.status end,
        -- Back to waiting for the delivery event: the worker settles delivered / undelivered at the 24 h mark
        -- (at once when the next-step page was already opened).
        due_at = case when not ((${smsPendingAfterLine}) or ((${fallbackNotStarted}) and ${lineOut})) then null
                      when n.seen_at is not null then ${now}::timestamptz
                      else n.sent_at + make_interval(secs => ${PNP_WINDOW_SECONDS}) end,
        sms_deadline_at = null, updated_at = ${now}::timestamptz
      from cur where n.id = cur.id and ((${nothingSent}) or (${smsPendingAfterLine}) or (${fallbackNotStarted}))
      returning n.id, cur.status as prev, n.status
    ), ev as (
      insert into notification_events (notification_id, at, state, detail)
      select upd.id, ${now}::timestamptz, v.state, ${detail}::jsonb from upd
      cross join lateral (values (1, case when upd.prev in ('accepted', 'queued') then null else 'sms_cancelled' end),
                                 (2, case when upd.status = 'cancelled' then 'cancelled' end)) as v(ord, state)
      where v.state is not null order by v.ord
    )
    select prev, status from upd`);
  const done = rows[0];
  if (done) return { ok: true, cancelled: done.status === "cancelled" ? "notification" : "sms_fallback", status: done.status };
  return explain(db, id);
}

interface Current {
  status: string;
  channel: string | null;
  retry_key: string | null;
  pnp_call_started_at: unknown;
  sent_at: unknown;
  sms_call_started_at: unknown;
  sms_sent_at: unknown;
  delivered_at: unknown;
  by_api: boolean;
}

/** Why a cancel did not apply: gone, already cancelled by an earlier call, or what already went out. */
async function explain(db: Database, id: string): Promise<CancelResult> {
  const [n] = await db.query<Current>(sql`
    select status, channel, retry_key, pnp_call_started_at, sent_at, sms_call_started_at, sms_sent_at, delivered_at,
      exists (select 1 from notification_events e where e.notification_id = n.id and e.state in ('cancelled', 'sms_cancelled')
              and e.detail->>'by' = 'api') as by_api
    from notifications n where id = ${id}`);
  if (!n) return { ok: false, reason: "not_found" };
  if (n.status === "cancelled") return { ok: true, cancelled: "notification", status: n.status, already: true };
  if (n.by_api && n.status === "sent") return { ok: true, cancelled: "sms_fallback", status: n.status, already: true };
  const wentOut: string[] = [];
  if (n.retry_key) {
    if (n.sent_at && n.channel === "push") wentOut.push(n.delivered_at ? "a LINE push was delivered" : "a LINE push was sent");
    else if (n.status === "queued" && n.channel === "push") wentOut.push("a LINE push is being sent or retried (its retry key is in use)");
    else wentOut.push("a LINE push was attempted");
  }
  if (n.channel === "pnp" && n.sent_at) wentOut.push(n.delivered_at ? "a LINE PNP message was delivered" : "a LINE PNP message was sent");
  else if (n.status === "queued" && n.pnp_call_started_at) wentOut.push("a LINE PNP message is being sent");
  if (n.sms_sent_at) wentOut.push("an SMS was sent");
  else if (n.sms_call_started_at) wentOut.push("an SMS is being sent");
  const what = wentOut.length ? wentOut.join("; ") : "nothing was sent";
  const tail = n.status === "sent" && !n.sms_call_started_at ? " and no SMS fallback is pending" : "";
  return {
    ok: false,
    reason: "conflict",
    status: n.status,
    wentOut,
    message: `cannot cancel notification in state ${n.status}: ${what}${tail}`,
  };
}
