import express, { Router } from "express";
import { validateSignature } from "@line/bot-sdk";
import { AppError } from "../lib/errors.ts";
import type { Metrics } from "../lib/metrics.ts";
import { eventKey, type InboxEvent, type InboxWriter } from "./inbox.ts";
import type { WebhookProcessor } from "./processor.ts";

// A hand check rather than zod here: it runs on every webhook, and only the envelope matters before storing.
function isCallbackBody(v: unknown): v is { destination?: string; events: Record<string, unknown>[] } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const events = (v as { events?: unknown }).events;
  return Array.isArray(events) && events.every((e) => typeof e === "object" && e !== null && !Array.isArray(e));
}

/**
 * POST /webhook. Mounted before express.json(): the signature is over the raw bytes. Verify → store every event
 * durably → 200 → process in the background. Nothing is stored for a bad signature or a bad body.
 */
export function webhookRouter(opts: {
  channelSecret: string;
  inbox: InboxWriter;
  processor: WebhookProcessor;
  metrics: Metrics;
}): Router {
  const router = Router();
  router.post("/webhook", express.raw({ type: () => true, limit: "1mb" }), async (req, res) => {
    res.on("finish", () => opts.metrics.httpRequests.inc({ method: "POST", route: "/webhook", status: String(res.statusCode) }));
    const signature = req.get("x-line-signature");
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // validateSignature compares with timingSafeEqual.
    if (!signature || !validateSignature(raw, opts.channelSecret, signature)) {
      throw new AppError("invalid_signature", "missing or invalid x-line-signature");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new AppError("bad_request", "body is not valid JSON");
    }
    if (!isCallbackBody(parsed)) throw new AppError("bad_request", "body must be { destination, events: [] }");
    const events: InboxEvent[] = parsed.events.map((e) => ({
      webhookEventId: eventKey(e),
      type: typeof e["type"] === "string" ? (e["type"] as string) : "unknown",
      timestamp: validTimestamp(e["timestamp"]),
      raw: e,
    }));
    const newIds = await opts.inbox.store(events);
    for (const e of events) opts.metrics.webhookEvents.inc({ type: e.type, result: "received" });
    if (newIds.length < events.length) opts.metrics.webhookEvents.inc({ type: "any", result: "duplicate" }, events.length - newIds.length);
    res.status(200).end();
    if (newIds.length > 0) void opts.processor.kick();
  });
  return router;
}

// A timestamp we cannot represent must not fail the whole body's insert: store the event, use the receive time.
function validTimestamp(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && Math.abs(v) < 8.64e15 ? v : null;
}
