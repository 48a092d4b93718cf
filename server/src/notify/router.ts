import { randomUUID } from "node:crypto";
import { Router, type Request } from "express";
import JSONParser from "@streamparser/json/jsonparser.js";
import { sql } from "@oa-notify/db";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { maskPhone } from "../lib/phone.ts";
import { parseOr400 } from "../lib/validate.ts";
import { requestHash, validateItem } from "./input.ts";
import { ingestNotifications, type IngestItem, type IngestResult } from "./ingest.ts";
import { cancelNotification } from "./cancel.ts";

export const MAX_BATCH_ITEMS = 10_000;
const MAX_BATCH_BYTES = 64 * 1024 * 1024;
const idempotencyKey = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");

function idempotencyKeyOf(req: Request): string | null {
  const v = req.get("idempotency-key");
  return v === undefined ? null : parseOr400(idempotencyKey, v, "headers.Idempotency-Key");
}

function asAppError(r: Extract<IngestResult, { ok: false }>): AppError {
  const code = r.status === 409 ? "conflict" : r.status === 422 ? "unprocessable" : "validation_failed";
  return new AppError(code, r.error.message, r.error.details);
}

type BatchResult = { index: number; id: string; status: string; channel: string | null; duplicate?: true } | { index: number; error: IngestResultError };
type IngestResultError = Extract<IngestResult, { ok: false }>["error"];
const slim = (x: IngestResult): BatchResult =>
  x.ok ? { index: x.index, id: x.id, status: x.status, channel: x.route?.channel ?? null, ...(x.duplicate ? { duplicate: true as const } : {}) } : { index: x.index, error: x.error };

/** Items validated, then inserted every CHUNK: the request's memory stays flat whatever the batch size. */
const CHUNK = 500;
/** Batch transactions at once per process: the rest wait with their bodies unread (TCP backpressure). */
const BATCH_PERMITS = 1;
let permits = BATCH_PERMITS;
const waiting: (() => void)[] = [];
async function acquire(): Promise<() => void> {
  if (permits > 0) permits--;
  else await new Promise<void>((r) => waiting.push(r));
  return () => {
    const next = waiting.shift();
    if (next) next();
    else permits++;
  };
}

/**
 * POST /notifications/batch, mounted BEFORE express.json(): the body (up to 10,000 items) is parsed as a stream,
 * item by item, so a big batch never becomes one giant JSON tree; items are validated on arrival and inserted in
 * bulk every few hundred, all inside ONE transaction, and the 202 goes out only after it committed (a bad body, a
 * dropped connection or an error anywhere rolls the whole request back: nothing half-stored).
 */
export function notificationsBatchRouter(deps: AppDeps): Router {
  const r = Router();
  r.post("/notifications/batch", async (req, res) => {
    if (!req.is("application/json")) throw new AppError("unsupported_media_type", "the batch body must be application/json");
    const release = await acquire();
    try {
      const batchId = randomUUID();
      const results: BatchResult[] = [];
      const keysInBatch = new Map<string, { hash: string; id: string }>();
      let count = 0;
      await deps.db.db.transaction(async (tx) => {
        let pending: IngestItem[] = [];
        let sawArray = false;
        let parseError: Error | null = null;
        const parser = new JSONParser({ paths: ["$.notifications", "$.notifications.*"], keepStack: false });
        parser.onError = (err) => {
          parseError ??= err;
        };
        parser.onValue = ({ value, key }) => {
          if (key === "notifications") {
            sawArray = Array.isArray(value);
            return;
          }
          const index = count++;
          if (index >= MAX_BATCH_ITEMS) return;
          const where = `notifications.${index}`;
          const v = validateItem(value, where);
          if (!v.ok) {
            const first = v.errors[0]!;
            results.push({ index, error: { code: "validation_failed", message: `${first.field}: ${first.message}`, details: v.errors } });
          } else {
            pending.push({ index, value: v.value, hash: requestHash(value), idempotencyKey: v.value.idempotencyKey ?? null, where });
          }
        };
        const flush = async () => {
          if (pending.length === 0) return;
          const chunk = pending;
          pending = [];
          const out = await ingestNotifications({ db: tx, clock: deps.clock, apiKeyId: req.apiKeyId!, items: chunk, batchId, keysInBatch });
          for (const x of out) results.push(slim(x));
        };
        let bytes = 0;
        for await (const chunk of req as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          if (bytes > MAX_BATCH_BYTES) throw new AppError("payload_too_large", `the batch body is over ${MAX_BATCH_BYTES} bytes`);
          if (!parser.isEnded) parser.write(chunk);
          if (parseError) break;
          if (count > MAX_BATCH_ITEMS) throw new AppError("payload_too_large", `at most ${MAX_BATCH_ITEMS} notifications per batch`);
          if (pending.length >= CHUNK) await flush();
        }
        if (!parseError && !parser.isEnded) parser.end();
        if (parseError) throw new AppError("bad_request", "body is not valid JSON");
        if (!sawArray) throw new AppError("validation_failed", "body.notifications: an array of notifications is required", [{ field: "body.notifications", message: "required" }]);
        if (count === 0) throw new AppError("validation_failed", "body.notifications: at least one notification", [{ field: "body.notifications", message: "empty" }]);
        await flush();
        results.sort((a, b) => a.index - b.index);
        if (!results.some((x) => "id" in x)) throw new AppError("validation_failed", "no notification in the batch was accepted", results);
      });
      const accepted = results.filter((x) => "id" in x).length;
      req.log.info({ batchId, items: count, accepted }, "notification batch");
      res.status(202).json({ batchId, accepted, rejected: results.length - accepted, results });
    } finally {
      release();
    }
  });
  return r;
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

  // "Why did member X get an SMS?": a member's latest notifications with channel, state and the route rule.
  r.get("/notifications", async (req, res) => {
    const q = parseOr400(
      z.object({ memberId: z.string().min(1).max(128), limit: z.coerce.number().int().min(1).max(100).default(20) }).strict(),
      req.query,
      "query",
    );
    const rows = await deps.db.query<Record<string, unknown>>(sql`
      select id, status, channel, scenario, urgency, route->>'rule' as rule, created_at, delivered_at, sms_sent_at
      from notifications where member_id = ${q.memberId} order by created_at desc, id limit ${q.limit}`);
    res.json({
      memberId: q.memberId,
      notifications: rows.map((n) => ({
        id: n["id"],
        status: n["status"],
        channel: n["channel"],
        scenario: n["scenario"],
        urgency: n["urgency"],
        rule: n["rule"],
        createdAt: ts(n["created_at"]),
        deliveredAt: ts(n["delivered_at"]),
        smsSentAt: ts(n["sms_sent_at"]),
      })),
    });
  });

  // product.md §4 `cancelled`: before anything went out → cancelled; LINE out and only the SMS fallback pending → the
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

const ts = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());

export async function getNotification(deps: Pick<AppDeps, "db" | "config">, id: string) {
  const rows = await deps.db.query<Record<string, unknown>>(sql`select * from notifications where id = ${id}`);
  const n = rows[0];
  if (!n) return null;
  const events = await deps.db.query<{ at: unknown; state: string; detail: unknown }>(
    sql`select at, state, detail from notification_events where notification_id = ${id} order by id`,
  );
  const p = deps.config.prices;
  const channel = n["channel"] as string | null;
  const status = n["status"] as string;
  const lineCharged = status === "delivered" || status === "delivered_late" || n["delivered_at"] !== null;
  const costTwd =
    (lineCharged && channel === "pnp" ? p.pnp : 0) + (lineCharged && channel === "push" ? p.push : 0) + (n["sms_sent_at"] !== null ? p.sms : 0);
  return {
    id,
    status,
    channel,
    scenario: n["scenario"],
    urgency: n["urgency"],
    memberId: n["member_id"],
    phone: maskPhone(n["phone_e164"] as string | null),
    route: n["route"],
    batchId: n["batch_id"],
    createdAt: ts(n["created_at"]),
    sentAt: ts(n["sent_at"]),
    deliveredAt: ts(n["delivered_at"]),
    seenAt: ts(n["seen_at"]),
    smsDeadlineAt: ts(n["sms_deadline_at"]),
    smsSentAt: ts(n["sms_sent_at"]),
    attempts: n["attempts"],
    lastError: n["last_error"],
    costTwd: Math.round(costTwd * 100) / 100,
    timeline: events.map((e) => ({ at: ts(e.at), state: e.state, detail: e.detail })),
  };
}
