import { sql, webhookDeliveries, webhookDeliveryKinds, webhookDeliveryStatuses } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, notFound } from "../lib/errors.ts";
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

/**
 * Operators' view of the webhook outbox (docs/api.md): GET /webhook-deliveries (status callbacks and LINE webhook
 * forwards; `?status=failed` for what ran out of retries), newest first with a keyset cursor, and a replay.
 */
export function webhookDeliveriesRouter(deps: AppDeps): Router {
  const r = Router();

  r.get("/webhook-deliveries", async (req, res) => {
    const q = parseOr400(
      z
        .object({
          status: z.enum(webhookDeliveryStatuses).optional(),
          kind: z.enum(webhookDeliveryKinds).optional(),
          notificationId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: z
            .string()
            .regex(/^[1-9][0-9]{0,18}$/, "a nextCursor from a previous page")
            .optional(),
        })
        .strict(),
      req.query,
      "query",
    );
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
  r.post("/webhook-deliveries/:id/replay", async (req, res) => {
    const id = parseOr400(z.string().regex(/^[1-9][0-9]{0,18}$/, "a delivery id"), req.params.id, "params.id");
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
