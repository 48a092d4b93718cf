import { sql, type DbOrTx } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";

/**
 * The recipient opened the notification's next-step page. Recorded once (first view); a pending SMS fallback is
 * cancelled by the worker, which never sends an SMS for a notification that was seen or delivered.
 */
export async function markSeen({ db, clock, notificationId }: { db: DbOrTx; clock: Clock; notificationId: string }): Promise<boolean> {
  const at = clock.now().toISOString();
  const res = (await db.execute(sql`
    with upd as (
      update notifications set seen_at = ${at}::timestamptz, updated_at = ${at}::timestamptz,
        -- A PNP waiting for its delivery event: let the worker settle it now (delivered, SMS cancelled). Only
        -- status 'sent': such a row is not mid-call, so making it due cannot race a send.
        due_at = case when status = 'sent' and due_at is not null then least(due_at, ${at}::timestamptz) else due_at end
      where id = ${notificationId} and seen_at is null returning id
    )
    insert into notification_events (notification_id, at, state, detail)
    select id, ${at}::timestamptz, 'seen', '{"by":"next_step_page"}'::jsonb from upd
    returning notification_id`)) as unknown as { rows: unknown[] };
  return res.rows.length > 0;
}
