import { type Database, notificationEvents, notificationStatuses, notifications, routeChannels, sql, timelineStates } from "@oa-notify/db";
import { z } from "zod";
import type { Config } from "../env.ts";
import { maskPhone } from "../lib/phone.ts";
import { typedRow, typedRows } from "../lib/rows.ts";
import { costSql, roundTwd } from "./cost.ts";

const dateTime = z.iso.datetime();
/** The route decision stored on a notification (route.ts RouteDecision, docs/routing.md). */
export const routeDecisionSchema = z
  .object({
    channel: z.enum(routeChannels),
    pnpKind: z.enum(["flexible", "template"]).optional(),
    smsAfterSeconds: z.number().int().nullable(),
    rule: z.string(),
    reason: z.string().optional(),
    inputs: z.record(z.string(), z.unknown()),
    decidedAt: dateTime,
    stage: z.enum(["accepted", "dispatch", "reroute"]),
    reroutedFrom: z.enum(routeChannels).optional(),
    parallelPush: z.boolean().optional(),
  })
  .meta({ id: "RouteDecision", description: "Which channel a notice takes and why (docs/routing.md): the inputs and the rule that fired." });

/** GET /notifications/:id's body (getNotification below). */
export const notificationViewSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(notificationStatuses),
    channel: z.enum(routeChannels).nullable(),
    scenario: z.string(),
    urgency: z.string(),
    memberId: z.string().nullable(),
    phone: z.string().nullable().meta({ description: "masked: +8869****5678" }),
    route: routeDecisionSchema.nullable(),
    batchId: z.uuid().nullable(),
    createdAt: dateTime.nullable(),
    sendAt: dateTime.nullable().meta({ description: "scheduled: nothing goes before it" }),
    sentAt: dateTime.nullable(),
    deliveredAt: dateTime.nullable(),
    seenAt: dateTime.nullable(),
    smsDeadlineAt: dateTime.nullable(),
    smsSentAt: dateTime.nullable(),
    smsParts: z.number().int().nullable().meta({ description: "the parts the SMS was billed as (cost = parts × PRICE_SMS_TWD)" }),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    costTwd: z.number().meta({ description: "NT$ spent on this notice so far" }),
    timeline: z.array(z.object({ at: dateTime.nullable(), state: z.enum(timelineStates), detail: z.unknown() })),
  })
  .meta({ id: "Notification" });

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
    sendAt: iso(n.sendAt),
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
