import { sql, type DbOrTx } from "@oa-notify/db";
import type { EventHandler } from "../webhook/handlers.ts";

/** X-Line-Delivery-Tag for a notification: derived from its id, so a `delivery` event names the notification. */
export function deliveryTagFor(notificationId: string): string {
  return `oan${notificationId.replace(/-/g, "")}`;
}

/**
 * A PNP `delivery` event for `tag` → `delivered`, or `delivered_late` when the SMS fallback already went out (both
 * channels were used and are charged). A pending SMS is cancelled (due_at cleared). When an SMS call is in flight
 * the state is left to the worker, which settles it as `delivered_late` once the provider answers.
 * Returns whether a notification matched.
 */
export async function applyDelivery(db: DbOrTx, tag: string, at: Date, detail: Record<string, unknown> = {}): Promise<boolean> {
  const iso = at.toISOString();
  const res = (await db.execute(sql`
    with t as (
      select id, status, sms_call_started_at from notifications where delivery_tag = ${tag} and delivered_at is null for update
    ), upd as (
      update notifications n set delivered_at = ${iso}::timestamptz, updated_at = ${iso}::timestamptz,
        status = case
          when t.status = 'sms_sent' then 'delivered_late'
          when t.status = 'fallback_sms' and t.sms_call_started_at is not null then t.status
          when t.status in ('accepted', 'queued', 'sent', 'fallback_sms', 'undelivered') then 'delivered'
          else t.status end,
        due_at = case
          when t.status = 'fallback_sms' and t.sms_call_started_at is not null then n.due_at
          when t.status in ('queued', 'sent', 'fallback_sms', 'undelivered') then null
          else n.due_at end
      from t where n.id = t.id
      returning n.id, n.status
    )
    insert into notification_events (notification_id, at, state, detail)
    select id, ${iso}::timestamptz, case when status in ('delivered', 'delivered_late') then status else 'delivery_received' end,
      ${JSON.stringify({ by: "delivery_webhook", tag, ...detail })}::jsonb
    from upd
    returning notification_id`)) as unknown as { rows: unknown[] };
  return res.rows.length > 0;
}

/**
 * After a PNP call returns: a delivery event that was stored and processed before our outcome was recorded (or
 * before the tag was visible to the handler) is matched now, from the webhook inbox.
 */
export async function matchStoredDelivery(db: DbOrTx, tag: string): Promise<boolean> {
  const res = (await db.execute(sql`
    select event_timestamp, received_at from webhook_events
    where type = 'delivery' and (event->'delivery'->>'data') = ${tag}
    order by id limit 1`)) as unknown as { rows: { event_timestamp: string | Date | null; received_at: string | Date }[] };
  const r = res.rows[0];
  if (!r) return false;
  return applyDelivery(db, tag, new Date(r.event_timestamp ?? r.received_at), { matched: "from_inbox_after_send" });
}

/** The webhook processor's handler for `delivery` events (registered in app.ts). */
export const deliveryEventHandler: EventHandler = async ({ tx, event, at }) => {
  const tag = event["delivery"]?.data;
  if (typeof tag !== "string" || tag.length === 0) return;
  await applyDelivery(tx, tag, at, { webhookEventId: event["webhookEventId"] });
};
