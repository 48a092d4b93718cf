import type { DbOrTx } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { apply, seen } from "./transitions.ts";

/**
 * The recipient opened the notification's next-step page. Recorded once (first view); a pending SMS fallback is
 * then called off by the worker, which never sends an SMS for a notification that was seen or delivered.
 */
export async function markSeen({ db, clock, notificationId }: { db: DbOrTx; clock: Clock; notificationId: string }): Promise<boolean> {
  return (await apply(db, seen, [{ id: notificationId, at: clock.now().toISOString() }])).length > 0;
}
