import { sql, webhookDeliveries, webhookDeliveryKinds, webhookDeliveryStatuses } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { defineOperations, errorResponse, isoString, mount } from "../lib/openapi.ts";
import { typedRow } from "../lib/rows.ts";
import { parseOr400 } from "../lib/validate.ts";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function view(raw: Record<string, unknown>) {
  const d = typedRow(webhookDeliveries, raw);
  return {
    id: String(d.id),
    webhookId: d.messageId,
    kind: d.kind,
    type: d.eventType,
    url: String(raw["url"]),
    notificationId: d.notificationId,
    status: d.status,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: iso(d.createdAt),
    firstAttemptAt: iso(d.firstAttemptAt),
    lastAttemptAt: iso(d.lastAttemptAt),
    nextAttemptAt: d.status === "pending" ? iso(d.nextAttemptAt) : null,
    deliveredAt: iso(d.deliveredAt),
  };
}

const deliveryId = z.string().regex(/^[1-9][0-9]{0,18}$/, "a delivery id");
const deliveryView = z
  .object({
    id: z.string(),
    webhookId: z.string(),
    kind: z.enum(webhookDeliveryKinds),
    type: z.string(),
    url: z.string(),
    notificationId: z.uuid().nullable(),
    status: z.enum(webhookDeliveryStatuses),
    attempts: z.number().int(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: isoString().nullable(),
    firstAttemptAt: isoString().nullable(),
    lastAttemptAt: isoString().nullable(),
    nextAttemptAt: isoString().nullable(),
    deliveredAt: isoString().nullable(),
  })
  .strict();

/** The webhook outbox's contract (lib/openapi.ts). */
export const webhookDeliveriesOperations = defineOperations({
  listWebhookDeliveries: {
    operationId: "listWebhookDeliveries",
    method: "get",
    path: "/webhook-deliveries",
    tag: "webhooks",
    summary: "Status callbacks and LINE webhook forwards, newest first",
    description: "`?status=failed`: what ran out of retries (24 h). Pass `nextCursor` back as `cursor` for the next page.",
    request: {
      query: z
        .object({
          status: z.enum(webhookDeliveryStatuses).optional(),
          kind: z.enum(webhookDeliveryKinds).optional(),
          notificationId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: deliveryId.optional(),
        })
        .strict(),
    },
    responses: { 200: { description: "one page", schema: z.object({ deliveries: z.array(deliveryView), nextCursor: z.string().nullable() }).strict() } },
  },
  replayWebhookDelivery: {
    operationId: "replayWebhookDelivery",
    method: "post",
    path: "/webhook-deliveries/:id/replay",
    tag: "webhooks",
    summary: "Send a failed or delivered callback/forward again (same webhook-id, fresh 24 h of retries)",
    request: { params: z.object({ id: deliveryId }).strict() },
    responses: {
      202: { description: "queued again", schema: deliveryView },
      404: errorResponse("no such delivery"),
      409: errorResponse("still pending: it is retried on its own"),
    },
  },
});
const ops = webhookDeliveriesOperations;

/**
 * Operators' view of the webhook outbox (docs/api.md): GET /webhook-deliveries (status callbacks and LINE webhook
 * forwards; `?status=failed` for what ran out of retries), newest first with a keyset cursor, and a replay.
 */
export function webhookDeliveriesRouter(deps: AppDeps): Router {
  const r = Router();

  mount(r, ops.listWebhookDeliveries, async (req, res) => {
    const q = parseOr400(ops.listWebhookDeliveries.request.query, req.query, "query");
    const rows = await deps.db.query<Record<string, unknown>>(sql`
      select d.*, e.url from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
      where true
        ${q.status ? sql`and d.status = ${q.status}` : sql``}
        ${q.kind ? sql`and d.kind = ${q.kind}` : sql``}
        ${q.notificationId ? sql`and d.notification_id = ${q.notificationId}` : sql``}
        ${q.cursor ? sql`and d.id < ${q.cursor}::bigint` : sql``}
      order by d.id desc limit ${q.limit + 1}`);
    const page = rows.slice(0, q.limit).map(view);
    res.json({ deliveries: page, nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null });
  });

  // Sends a failed (or delivered) row again, with the same webhook-id, from now on, with a fresh 24 h of retries.
  mount(r, ops.replayWebhookDelivery, async (req, res) => {
    const { id } = parseOr400(ops.replayWebhookDelivery.request.params, req.params, "params");
    const now = deps.clock.now().toISOString();
    const [row] = await deps.db.query<Record<string, unknown>>(sql`
      with upd as (
        update webhook_deliveries set status = 'pending', attempts = 0, first_attempt_at = null, next_attempt_at = ${now}::timestamptz,
          last_error = null, last_status = null, delivered_at = null
        where id = ${id}::bigint and status in ('failed', 'delivered') returning *
      )
      select upd.*, e.url from upd join webhook_endpoints e on e.id = upd.endpoint_id`);
    if (!row) {
      const [exists] = await deps.db.query(sql`select status from webhook_deliveries where id = ${id}::bigint`);
      if (!exists) throw notFound("webhook delivery");
      throw new AppError("conflict", "this delivery is still pending: it is retried on its own");
    }
    req.log.info({ delivery: id }, "webhook delivery replayed");
    res.status(202).json(view(row));
  });
  return r;
}
