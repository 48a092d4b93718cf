import { notificationStatuses, routeChannels } from "@oa-notify/db";
import { type Request, Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, type ErrorCode, notFound } from "../lib/errors.ts";
import { defineOperations, errorResponse, isoString, mount } from "../lib/openapi.ts";
import { parseOr400 } from "../lib/validate.ts";
import { cancelNotification } from "./cancel.ts";
import { exportCsv, exportQuery } from "./export.ts";
import { type IngestResult, ingestNotifications } from "./ingest.ts";
import { notificationInput, requestHash, URGENCIES, validateItem } from "./input.ts";
import { batchSummary, listNotifications, listQuery } from "./list.ts";
import { getNotification, notificationViewSchema, routeDecisionSchema } from "./view.ts";

const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
  .meta({ description: "Retrying with the same key and body answers 200 with the same id; the same key with another body is a 409." });
const idParams = z.object({ id: z.uuid() }).strict();
const accepted = z.object({ id: z.uuid(), status: z.enum(notificationStatuses), route: routeDecisionSchema.nullable() }).strict();

/** The notifications API's contract (lib/openapi.ts): the schemas below are the ones the handlers validate with. */
export const notificationsOperations = defineOperations({
  createNotification: {
    operationId: "createNotification",
    method: "post",
    path: "/notifications",
    tag: "notifications",
    summary: "Send one notice",
    description:
      "Routed to LINE push (friends), LINE notification messages (PNP, by phone) or SMS (docs/routing.md). `messages` are LINE message objects, checked against LINE's own schema at acceptance (a message LINE would refuse is a 422 naming its path).",
    request: { headers: z.object({ "Idempotency-Key": idempotencyKey.optional() }), body: notificationInput, encodedBody: true },
    responses: {
      202: { description: "accepted (durable)", schema: accepted },
      200: {
        description: "the same Idempotency-Key and body again: the notification accepted the first time",
        schema: accepted.extend({ duplicate: z.literal(true) }),
      },
      409: errorResponse("the Idempotency-Key was used with another body"),
      422: errorResponse("LINE would refuse a message (path named), or the recipient cannot be reached (e.g. unknown memberId)"),
    },
  },
  listNotifications: {
    operationId: "listNotifications",
    method: "get",
    path: "/notifications",
    tag: "notifications",
    summary: "List notifications (filters, keyset pages)",
    description:
      'Newest first. Pass `nextCursor` back as `cursor` for the next page: stable under concurrent inserts, no duplicates or gaps. Date-only `from`/`to` are Asia/Taipei days. "Why did member X get an SMS?": `?memberId=`.',
    request: { query: listQuery },
    responses: {
      200: {
        description: "one page",
        schema: z
          .object({
            memberId: z.string().optional(),
            notifications: z.array(
              z
                .object({
                  id: z.uuid(),
                  status: z.enum(notificationStatuses),
                  channel: z.enum(routeChannels).nullable(),
                  scenario: z.string(),
                  urgency: z.enum(URGENCIES),
                  rule: z.string().nullable(),
                  memberId: z.string().nullable(),
                  phone: z.string().nullable().meta({ description: "masked" }),
                  batchId: z.uuid().nullable(),
                  sendAt: isoString().nullable(),
                  createdAt: isoString(),
                  deliveredAt: isoString().nullable(),
                  smsSentAt: isoString().nullable(),
                })
                .strict(),
            ),
            nextCursor: z.string().nullable(),
          })
          .strict(),
      },
    },
  },
  exportNotifications: {
    operationId: "exportNotifications",
    method: "get",
    path: "/notifications/export",
    tag: "notifications",
    summary: "Export notifications as CSV (streamed, UTF-8 with BOM, phone masked)",
    request: { query: exportQuery },
    responses: { 200: { description: "text/csv; the list's filters apply" } },
  },
  getBatch: {
    operationId: "getBatch",
    method: "get",
    path: "/batches/:id",
    tag: "notifications",
    summary: "A batch's progress: its notifications counted by status",
    request: { params: idParams },
    responses: {
      200: {
        description: "counts by status",
        schema: z
          .object({
            batchId: z.uuid(),
            total: z.number().int(),
            byStatus: z.record(z.enum(notificationStatuses), z.number().int()),
            pending: z.number().int(),
            done: z.number().int(),
            createdAt: isoString(),
            updatedAt: isoString(),
          })
          .strict(),
      },
      404: errorResponse("no notification carries this batch id"),
    },
  },
  cancelNotification: {
    operationId: "cancelNotification",
    method: "post",
    path: "/notifications/:id/cancel",
    tag: "notifications",
    summary: "Cancel a notice (or its pending SMS fallback)",
    request: { params: idParams },
    responses: {
      200: {
        description: "cancelled (`notification`), or LINE already went out and only the SMS fallback was called off (`sms_fallback`)",
        schema: notificationViewSchema.extend({ cancelled: z.enum(["notification", "sms_fallback"]), alreadyCancelled: z.literal(true).optional() }),
      },
      404: errorResponse("no such notification"),
      409: errorResponse("too late: `details.wentOut` names what already went out"),
    },
  },
  getNotification: {
    operationId: "getNotification",
    method: "get",
    path: "/notifications/:id",
    tag: "notifications",
    summary: "A notification, its route decision, cost and timeline",
    request: { params: idParams },
    responses: { 200: { description: "the notification (phone masked)", schema: notificationViewSchema }, 404: errorResponse("no such notification") },
  },
});
const ops = notificationsOperations;

function idempotencyKeyOf(req: Request): string | null {
  const v = req.get("idempotency-key");
  return v === undefined ? null : parseOr400(idempotencyKey, v, "headers.Idempotency-Key");
}

function asAppError(r: Extract<IngestResult, { ok: false }>): AppError {
  return new AppError(r.error.code as ErrorCode, r.error.message, r.error.details);
}

export function notificationsRouter(deps: AppDeps): Router {
  const r = Router();

  mount(r, ops.createNotification, async (req, res) => {
    const key = idempotencyKeyOf(req);
    const v = validateItem(req.body, "body");
    if (!v.ok) {
      const first = v.errors[0]!;
      throw new AppError(v.code, `${first.field}: ${first.message}`, v.errors);
    }
    const [out] = await ingestNotifications({
      db: deps.db.db,
      clock: deps.clock,
      apiKeyId: req.apiKeyId!,
      items: [{ index: 0, value: v.value, hash: requestHash(req.body), idempotencyKey: key ?? v.value.idempotencyKey ?? null, where: "body" }],
      batchId: null,
      promoWords: deps.config.promoWords,
    });
    if (!out) throw new AppError("internal", "no result");
    if (!out.ok) throw asAppError(out);
    if (out.duplicate) {
      const current = await getNotification(deps, out.id);
      res.status(200).json({ id: out.id, status: current?.status ?? out.status, route: current?.route ?? out.route, duplicate: true });
      return;
    }
    res.status(202).json({ id: out.id, status: out.status, route: out.route });
  });

  // Filtered, paged list (notify/list.ts). "Why did member X get an SMS?": ?memberId= gives a member's latest with
  // channel, state and the route rule.
  mount(r, ops.listNotifications, async (req, res) => {
    const q = parseOr400(listQuery, req.query, "query");
    const out = await listNotifications(deps.db, q);
    res.json({ ...(q.memberId ? { memberId: q.memberId } : {}), ...out });
  });

  // Before /notifications/:id. Streams; a client that goes away stops the walk (notify/export.ts).
  mount(r, ops.exportNotifications, async (req, res) => {
    const q = parseOr400(exportQuery, req.query, "query");
    const rows = await exportCsv(deps, q, res);
    req.log.info({ rows, from: q.from, to: q.to }, "notifications exported");
  });

  mount(r, ops.getBatch, async (req, res) => {
    const { id } = parseOr400(ops.getBatch.request.params, req.params, "params");
    const b = await batchSummary(deps.db, id);
    if (!b) throw notFound("batch");
    res.json(b);
  });

  // The `cancel` transition (docs/states.md): before anything went out → cancelled; LINE out and only the SMS fallback pending → the
  // SMS is called off; otherwise 409 naming what already went out (notify/cancel.ts).
  mount(r, ops.cancelNotification, async (req, res) => {
    const { id } = parseOr400(ops.cancelNotification.request.params, req.params, "params");
    const out = await cancelNotification({ db: deps.db, clock: deps.clock, id, by: req.apiKeyId! });
    if (!out.ok && out.reason === "not_found") throw notFound("notification");
    if (!out.ok) throw new AppError("conflict", out.message, { status: out.status, wentOut: out.wentOut });
    req.log.info({ notificationId: id, cancelled: out.cancelled, already: Boolean(out.already) }, "notification cancelled");
    const n = await getNotification(deps, id);
    res.status(200).json({ ...n, cancelled: out.cancelled, ...(out.already ? { alreadyCancelled: true } : {}) });
  });

  mount(r, ops.getNotification, async (req, res) => {
    const { id } = parseOr400(ops.getNotification.request.params, req.params, "params");
    const n = await getNotification(deps, id);
    if (!n) throw notFound("notification");
    res.json(n);
  });
  return r;
}
