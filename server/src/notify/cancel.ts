import { type Database, sql } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { apply, cancel } from "./transitions.ts";

export type CancelResult =
  | { ok: true; cancelled: "notification" | "sms_fallback"; status: string; already?: true }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "conflict"; status: string; message: string; wentOut: string[] };

/**
 * Cancel a notification (the `cancel` transition, docs/states.md), in ONE conditional UPDATE under the row lock, so it is
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
  const now = clock.now();
  const [done] = await apply(db.db, cancel, [
    {
      id,
      at: now.toISOString(),
      detail: { reason: "cancelled by API", by: "api", apiKeyId: by },
    },
  ]);
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
