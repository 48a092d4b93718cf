import { type Database, notificationEvents, notifications, sql } from "@oa-notify/db";
import type { Config } from "../env.ts";
import { maskPhone } from "../lib/phone.ts";
import { typedRow, typedRows } from "../lib/rows.ts";
import { costSql, roundTwd } from "./cost.ts";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** GET /notifications/:id: the notification, its route decision, its cost and its timeline (phone masked). */
export async function getNotification(deps: { db: Database; config: Pick<Config, "prices"> }, id: string) {
  const c = costSql(deps.config.prices);
  const [raw] = await deps.db.query<Record<string, unknown>>(sql`select *, ${c.push} + ${c.pnp} + ${c.sms} as cost_twd from notifications where id = ${id}`);
  if (!raw) return null;
  const n = typedRow(notifications, raw);
  const events = typedRows(notificationEvents, await deps.db.query(sql`select * from notification_events where notification_id = ${id} order by id`));
  return {
    id,
    status: n.status,
    channel: n.channel,
    scenario: n.scenario,
    urgency: n.urgency,
    memberId: n.memberId,
    phone: maskPhone(n.phoneE164),
    route: n.route,
    batchId: n.batchId,
    createdAt: iso(n.createdAt),
    sentAt: iso(n.sentAt),
    deliveredAt: iso(n.deliveredAt),
    seenAt: iso(n.seenAt),
    smsDeadlineAt: iso(n.smsDeadlineAt),
    smsSentAt: iso(n.smsSentAt),
    smsParts: n.smsParts,
    attempts: n.attempts,
    lastError: n.lastError,
    costTwd: roundTwd(Number(raw["cost_twd"])),
    timeline: events.map((e) => ({ at: iso(e.at), state: e.state, detail: e.detail })),
  };
}
