import { type Request, Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { parseOr400 } from "../lib/validate.ts";
import { cancelNotification } from "./cancel.ts";
import { exportCsv, exportQuery } from "./export.ts";
import { type IngestResult, ingestNotifications } from "./ingest.ts";
import { requestHash, validateItem } from "./input.ts";
import { batchSummary, listNotifications, listQuery } from "./list.ts";
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
  const code = r.status === 409 ? "conflict" : r.status === 422 ? "unprocessable" : "validation_failed";
  return new AppError(code, r.error.message, r.error.details);
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
  r.get("/notifications", async (req, res) => {
    const q = parseOr400(listQuery, req.query, "query");
    const out = await listNotifications(deps.db, q);
    res.json({ ...(q.memberId ? { memberId: q.memberId } : {}), ...out });
  });

  // Before /notifications/:id. Streams; a client that goes away stops the walk (notify/export.ts).
  r.get("/notifications/export", async (req, res) => {
    const q = parseOr400(exportQuery, req.query, "query");
    const rows = await exportCsv(deps, q, res);
    req.log.info({ rows, from: q.from, to: q.to }, "notifications exported");
  });

  r.get("/batches/:id", async (req, res) => {
    const id = parseOr400(z.uuid(), req.params.id, "params.id");
    const b = await batchSummary(deps.db, id);
    if (!b) throw notFound("batch");
    res.json(b);
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
