import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../lib/errors.ts";
import { externalId } from "../lib/ids.ts";
import { defineOperations, errorResponse, mount } from "../lib/openapi.ts";
import { isoDateTime, parseOr400 } from "../lib/validate.ts";

// NT$ with at most 2 decimals (numeric(12,2)); money arrives as a JSON number, never a float we round silently.
const twd = z
  .number()
  .nonnegative()
  .max(9_999_999_999.99)
  .refine((n) => Math.abs(Math.round(n * 100) - n * 100) < 1e-6, "at most 2 decimals (NT$)");
// Only web links: a `javascript:` URL on a pay button would run in our page.
const webUrl = z.url({ protocol: /^https?$/, message: "an http(s) URL" }).max(2000);
const when = isoDateTime();
const detail = z.record(z.string(), z.unknown()).optional();

const orderBody = z
  .object({
    memberId: externalId,
    status: z.enum(["pending", "paid", "processing", "shipped", "delivered", "ready_for_pickup", "cancelled", "returned"]),
    items: z
      .array(z.object({ name: z.string().min(1).max(200), quantity: z.number().int().positive().max(100_000), unitPriceTwd: twd }).strict())
      .min(1)
      .max(200),
    amountTwd: twd,
    orderedAt: when.optional(),
    deliveryEta: when.optional(),
    trackingUrl: webUrl.optional(),
    detail,
  })
  .strict();

const billBody = z
  .object({
    memberId: externalId,
    status: z.enum(["unpaid", "paid", "overdue", "cancelled"]),
    amountTwd: twd,
    period: z.string().min(1).max(40).optional(),
    issuedAt: when.optional(),
    dueAt: when.optional(),
    paymentUrl: webUrl.optional(),
    items: z
      .array(z.object({ name: z.string().min(1).max(200), amountTwd: twd }).strict())
      .max(200)
      .optional(),
    detail,
  })
  .strict();

const unknownOwner = errorResponse("body.memberId: no such member");
/** The next-step records' contract (lib/openapi.ts). */
export const recordsOperations = defineOperations({
  upsertOrder: {
    operationId: "upsertOrder",
    method: "put",
    path: "/orders/:orderId",
    tag: "records",
    summary: "Create or update an order (the next-step page a notice links to)",
    request: { params: z.object({ orderId: externalId }).strict(), body: orderBody },
    responses: {
      201: { description: "created", schema: orderBody.extend({ orderId: z.string() }) },
      200: { description: "updated", schema: orderBody.extend({ orderId: z.string() }) },
      422: unknownOwner,
    },
  },
  upsertBill: {
    operationId: "upsertBill",
    method: "put",
    path: "/bills/:billId",
    tag: "records",
    summary: "Create or update a bill (the next-step page a notice links to)",
    request: { params: z.object({ billId: externalId }).strict(), body: billBody },
    responses: {
      201: { description: "created", schema: billBody.extend({ billId: z.string() }) },
      200: { description: "updated", schema: billBody.extend({ billId: z.string() }) },
      422: unknownOwner,
    },
  },
});
const ops = recordsOperations;

export const memberExists = async (deps: AppDeps, memberId: string) =>
  (await deps.db.query(sql`select 1 from members where member_id = ${memberId}`)).length > 0;
const unknownMember = () =>
  new AppError("unprocessable", "body.memberId: no such member (PUT /api/v1/members/:memberId first)", [{ field: "body.memberId", message: "no such member" }]);
const jsonOrNull = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

/** Backend API: next-step data (orders, bills) that the LIFF pages show. Mounted under /api/v1 behind the API key. */
export function recordsRouter(deps: AppDeps): Router {
  const r = Router();

  mount(r, ops.upsertOrder, async (req, res) => {
    const { orderId } = parseOr400(ops.upsertOrder.request.params, req.params, "params");
    const b = parseOr400(ops.upsertOrder.request.body, req.body);
    if (!(await memberExists(deps, b.memberId))) throw unknownMember();
    const now = deps.clock.now().toISOString();
    const rows = await deps.db.query<{ created: boolean }>(sql`
      insert into orders (order_id, member_id, status, items, amount_twd, ordered_at, delivery_eta, tracking_url, detail, created_at, updated_at)
      values (${orderId}, ${b.memberId}, ${b.status}, ${JSON.stringify(b.items)}::jsonb, ${b.amountTwd.toFixed(2)}::numeric,
              ${b.orderedAt ?? null}::timestamptz, ${b.deliveryEta ?? null}::timestamptz, ${b.trackingUrl ?? null}, ${jsonOrNull(b.detail)}::jsonb,
              ${now}::timestamptz, ${now}::timestamptz)
      on conflict (order_id) do update set member_id = excluded.member_id, status = excluded.status, items = excluded.items,
        amount_twd = excluded.amount_twd, ordered_at = excluded.ordered_at, delivery_eta = excluded.delivery_eta,
        tracking_url = excluded.tracking_url, detail = excluded.detail, updated_at = excluded.updated_at
      returning (xmax = 0) as created`);
    const created = Boolean(rows[0]?.created);
    req.log.info({ orderId, memberId: b.memberId, created }, "order upserted");
    res.status(created ? 201 : 200).json({ orderId, ...b });
  });

  mount(r, ops.upsertBill, async (req, res) => {
    const { billId } = parseOr400(ops.upsertBill.request.params, req.params, "params");
    const b = parseOr400(ops.upsertBill.request.body, req.body);
    if (!(await memberExists(deps, b.memberId))) throw unknownMember();
    const now = deps.clock.now().toISOString();
    const rows = await deps.db.query<{ created: boolean }>(sql`
      insert into bills (bill_id, member_id, status, amount_twd, period, issued_at, due_at, payment_url, items, detail, created_at, updated_at)
      values (${billId}, ${b.memberId}, ${b.status}, ${b.amountTwd.toFixed(2)}::numeric, ${b.period ?? null},
              ${b.issuedAt ?? null}::timestamptz, ${b.dueAt ?? null}::timestamptz, ${b.paymentUrl ?? null},
              ${jsonOrNull(b.items)}::jsonb, ${jsonOrNull(b.detail)}::jsonb, ${now}::timestamptz, ${now}::timestamptz)
      on conflict (bill_id) do update set member_id = excluded.member_id, status = excluded.status, amount_twd = excluded.amount_twd,
        period = excluded.period, issued_at = excluded.issued_at, due_at = excluded.due_at, payment_url = excluded.payment_url,
        items = excluded.items, detail = excluded.detail, updated_at = excluded.updated_at
      returning (xmax = 0) as created`);
    const created = Boolean(rows[0]?.created);
    req.log.info({ billId, memberId: b.memberId, created }, "bill upserted");
    res.status(created ? 201 : 200).json({ billId, ...b });
  });

  return r;
}
