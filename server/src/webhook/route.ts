import type { IncomingMessage, ServerResponse } from "node:http";
import { validateSignature } from "@line/bot-sdk";
import { AppError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";
import { storableCopy, TooDeep } from "../lib/storable.ts";
import { MAX_TYPE_LENGTH, typeLabel } from "./event-types.ts";
import { eventKey, type InboxEvent, type InboxWriter } from "./inbox.ts";
import type { WebhookProcessor } from "./processor.ts";

const BODY_LIMIT = 1024 * 1024;

// A hand check rather than zod here: it runs on every webhook, and only the envelope matters before storing.
function isCallbackBody(v: unknown): v is { destination?: string; events: Record<string, unknown>[] } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const events = (v as { events?: unknown }).events;
  return Array.isArray(events) && events.every((e) => typeof e === "object" && e !== null && !Array.isArray(e));
}

// A timestamp timestamptz cannot take (its ISO form must have a 4-digit year: 0001–9999) must not fail the insert:
// the event is stored with a null event time, and processing uses the receive time (processor.ts).
const MIN_TS = -62135596800000; // 0001-01-01T00:00:00Z
const MAX_TS = 253402300800000; // 10000-01-01T00:00:00Z, excluded
function validTimestamp(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v >= MIN_TS && v < MAX_TS ? v : null;
}

export function isWebhookRequest(req: IncomingMessage): boolean {
  if (req.method !== "POST" || !req.url) return false;
  const path = req.url.split("?", 1)[0];
  return path === "/webhook" || path === "/webhook/";
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > BODY_LIMIT) return reject(new AppError("payload_too_large", "request body is too large"));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT) {
        req.removeAllListeners("data");
        req.resume();
        reject(new AppError("payload_too_large", "request body is too large"));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}

/**
 * POST /webhook as a plain node request handler: verify the signature over the raw bytes → store every event
 * durably → 200 → process in the background. Nothing is stored for a bad signature or a bad body.
 *
 * It is LINE's hottest path (thousands of requests a second in a burst), and everything express would add
 * (routing, body-parser, per-request logger, histogram) is work it does not need; createApp() hands POST /webhook
 * to this before express sees the request, in tests and in production alike.
 */
export function createWebhookHandler(opts: { channelSecret: string; inbox: InboxWriter; processor: WebhookProcessor; metrics: Metrics; logger: Logger }) {
  const respond = (res: ServerResponse, status: number, body?: string) => {
    opts.metrics.httpRequests.inc({ method: "POST", route: "/webhook", status: String(status) });
    if (body === undefined) res.writeHead(status).end();
    else res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
  };

  async function accept(req: IncomingMessage): Promise<number[]> {
    const raw = await readBody(req);
    const signature = req.headers["x-line-signature"];
    // validateSignature compares with timingSafeEqual.
    if (typeof signature !== "string" || !validateSignature(raw, opts.channelSecret, signature)) {
      throw new AppError("invalid_signature", "missing or invalid x-line-signature");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new AppError("bad_request", "body is not valid JSON");
    }
    if (!isCallbackBody(parsed)) throw new AppError("bad_request", "body must be { destination, events: [] }");
    let events: InboxEvent[];
    try {
      events = parsed.events.map((event) => {
        // What PostgreSQL cannot hold (U+0000, unpaired surrogates in a user's text) is replaced, not refused: a
        // signed event is LINE's, and refusing it would only make LINE redeliver it forever (lib/storable.ts).
        const e = storableCopy(event);
        const type = typeof e["type"] === "string" ? (e["type"] as string).slice(0, MAX_TYPE_LENGTH) : "unknown";
        return { webhookEventId: eventKey(e), type, timestamp: validTimestamp(e["timestamp"]), raw: e };
      });
    } catch (err) {
      if (err instanceof TooDeep) throw new AppError("bad_request", `an event is ${err.message}`);
      throw err;
    }
    const newIds = await opts.inbox.store(events, { body: raw, signature });
    for (const e of events) opts.metrics.webhookEvents.inc({ type: typeLabel(e.type), result: "received" });
    if (newIds.length < events.length) opts.metrics.webhookEvents.inc({ type: "any", result: "duplicate" }, events.length - newIds.length);
    return newIds;
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    accept(req).then(
      (newIds) => {
        respond(res, 200);
        if (newIds.length > 0) void opts.processor.kick();
      },
      (err: unknown) => {
        const e = err instanceof AppError ? err : new AppError("unavailable", "could not store the events; LINE may redeliver");
        if (!(err instanceof AppError)) opts.logger.error({ err }, "webhook storage failed");
        opts.metrics.errors.inc({ code: e.code });
        respond(res, e.status, JSON.stringify({ error: { code: e.code, message: e.message } }));
      },
    );
  };
}
