import { notifications, sql } from "@oa-notify/db";
import { type Request, Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, type ErrorCode, notFound } from "../lib/errors.ts";
import { typedRows } from "../lib/rows.ts";
import { parseOr400 } from "../lib/validate.ts";
import { cancelNotification } from "./cancel.ts";
import { type IngestResult, ingestNotifications } from "./ingest.ts";
import { requestHash, validateItem } from "./input.ts";
import { getNotification } from "./view.ts";

const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");

function idempotencyKeyOf(req: Request): string | null {
  const v = req.get("idempotency-key");
  return v === undefined ? null : parseOr400(idempotencyKey, v, "headers.Idempotency-Key");
}

function asAppError(r: Extract<IngestResult, { ok: false }>): AppError {
  return new AppError(r.error.code as ErrorCode, r.error.message, r.error.details);
}

export function notificationsRouter(deps: AppDeps): Router {
  const r = Router();

  r.post("/notifications", async (req, res) => {
    const key = idempotencyKeyOf(req);
    const v = validateItem(req.body, "body");
    if (!v.ok) {
      const first = v.errors[0]!;
      throw new AppError("validation_failed", `${first.field}: ${first.message}`, v.errors);
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

  // "Why did member X get an SMS?": a member's latest notifications with channel, state and the route rule.
  r.get("/notifications", async (req, res) => {
    const q = parseOr400(
      z.object({ memberId: z.string().min(1).max(128), limit: z.coerce.number().int().min(1).max(100).default(20) }).strict(),
      req.query,
      "query",
    );
    const rows = typedRows(
      notifications,
      await deps.db.query(sql`select * from notifications where member_id = ${q.memberId} order by created_at desc, id limit ${q.limit}`),
    );
    res.json({
      memberId: q.memberId,
      notifications: rows.map((n) => ({
        id: n.id,
        status: n.status,
        channel: n.channel,
        scenario: n.scenario,
        urgency: n.urgency,
        rule: (n.route as { rule?: string } | null)?.rule ?? null,
        createdAt: n.createdAt.toISOString(),
        deliveredAt: n.deliveredAt?.toISOString() ?? null,
        smsSentAt: n.smsSentAt?.toISOString() ?? null,
      })),
    });
  });

  // The `cancel` transition (docs/states.md): before anything went out → cancelled; LINE out and only the SMS fallback pending → the
  // SMS is called off; otherwise 409 naming what already went out (notify/cancel.ts).
  r.post("/notifications/:id/cancel", async (req, res) => {
    const id = parseOr400(z.uuid(), req.params.id, "params.id");
    const out = await cancelNotification({ db: deps.db, clock: deps.clock, id, by: req.apiKeyId! });
    if (!out.ok && out.reason === "not_found") throw notFound("notification");
    if (!out.ok) throw new AppError("conflict", out.message, { status: out.status, wentOut: out.wentOut });
    req.log.info({ notificationId: id, cancelled: out.cancelled, already: Boolean(out.already) }, "notification cancelled");
    const n = await getNotification(deps, id);
    res.status(200).json({ ...n, cancelled: out.cancelled, ...(out.already ? { alreadyCancelled: true } : {}) });
  });

  r.get("/notifications/:id", async (req, res) => {
    const id = parseOr400(z.uuid(), req.params.id, "params.id");
    const n = await getNotification(deps, id);
    if (!n) throw notFound("notification");
    res.json(n);
  });
  return r;
}
