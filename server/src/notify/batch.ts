import { randomUUID } from "node:crypto";
import { Router } from "express";
import JSONParser from "@streamparser/json/jsonparser.js";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../lib/errors.ts";
import { requestHash, validateItem } from "./input.ts";
import { ingestNotifications, type IngestItem, type IngestResult } from "./ingest.ts";

export const MAX_BATCH_ITEMS = 10_000;
const MAX_BATCH_BYTES = 64 * 1024 * 1024;

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

