import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { DbOrTx } from "@oa-notify/db";
import { notificationStatuses, routeChannels } from "@oa-notify/db";
import JSONParser from "@streamparser/json/jsonparser.js";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, errorCodes } from "../lib/errors.ts";
import { defineOperations, errorBody, errorResponse, mount } from "../lib/openapi.ts";
import { findUnstorable } from "../lib/storable.ts";
import { decodedBody } from "./batch-body.ts";
import { Spool } from "./batch-spool.ts";
import { copyAcceptRows, pgClientOf } from "./copy-accept.ts";
import { type IngestItem, type IngestResult, ingestNotifications } from "./ingest.ts";
import { notificationInput, requestHash, validateItem } from "./input.ts";

export const MAX_BATCH_ITEMS = 10_000;
const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** A batch body that sends nothing for this long is dropped (the client stalled or vanished). */
export const BATCH_BODY_IDLE_MS = 30_000;

type BatchResult = { index: number; id: string; status: string; channel: string | null; duplicate?: true } | { index: number; error: IngestResultError };
type IngestResultError = Extract<IngestResult, { ok: false }>["error"];
const slim = (x: IngestResult): BatchResult =>
  x.ok
    ? { index: x.index, id: x.id, status: x.status, channel: x.route?.channel ?? null, ...(x.duplicate ? { duplicate: true as const } : {}) }
    : { index: x.index, error: x.error };

const itemError = errorBody.shape.error;
/**
 * The batch endpoint's contract (lib/openapi.ts). The body is parsed as a stream, item by item, each with
 * `notificationInput` (the single endpoint's schema); the wrapper below only describes that stream.
 */
export const batchOperations = defineOperations({
  createNotificationBatch: {
    operationId: "createNotificationBatch",
    method: "post",
    path: "/notifications/batch",
    tag: "notifications",
    summary: `Send up to ${MAX_BATCH_ITEMS.toLocaleString("en")} notices in one request`,
    description:
      "Durable before the 202 (one transaction). Each item is checked like a single notification (plus an optional `idempotencyKey`); a bad item is reported in `results` and the others are accepted. The body may be `Content-Encoding: gzip`, `deflate` or `br`.",
    request: { body: z.object({ notifications: z.array(notificationInput).min(1).max(MAX_BATCH_ITEMS) }).strict(), encodedBody: true },
    responses: {
      202: {
        description: "accepted items have an `id` (an already-accepted `idempotencyKey`: `duplicate: true`); refused ones an `error`",
        schema: z
          .object({
            batchId: z.uuid(),
            accepted: z.number().int(),
            rejected: z.number().int(),
            results: z.array(
              z.union([
                z
                  .object({
                    index: z.number().int(),
                    id: z.uuid(),
                    status: z.enum(notificationStatuses),
                    channel: z.enum(routeChannels).nullable(),
                    duplicate: z.literal(true).optional(),
                  })
                  .strict(),
                z.object({ index: z.number().int(), error: itemError }).strict(),
              ]),
            ),
          })
          .strict(),
      },
      [errorCodes.payload_too_large]: errorResponse(`over ${MAX_BATCH_ITEMS} items or ${MAX_BATCH_BYTES} bytes`),
    },
  },
});

/**
 * Items inserted every chunk inside the transaction: memory stays flat whatever the batch size. COPY (PostgreSQL)
 * takes bigger chunks: fewer statements, and its cost per row does not grow with the chunk.
 */
const CHUNK = { pglite: 500, postgres: 2000 } as const;
/** Batch transactions at once per process: the database work of batches is serialised, their uploads are not. */
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
 * The write step of a batch: one chunk of validated items into the open transaction (rows + timeline, idempotency,
 * recipient checks: ingest.ts). On PostgreSQL the rows go in with COPY on the batch's transaction (copy-accept.ts,
 * docs/decisions/0018-batch-copy.md); PGlite keeps the one-statement INSERT.
 */
export function writeBatchChunk(args: {
  tx: DbOrTx;
  deps: AppDeps;
  apiKeyId: string;
  batchId: string;
  items: IngestItem[];
  keysInBatch: Map<string, { hash: string; id: string }>;
}): Promise<IngestResult[]> {
  const client = args.deps.db.kind === "postgres" ? pgClientOf(args.tx) : null;
  return ingestNotifications({
    db: args.tx,
    clock: args.deps.clock,
    apiKeyId: args.apiKeyId,
    items: args.items,
    batchId: args.batchId,
    keysInBatch: args.keysInBatch,
    promoWords: args.deps.config.promoWords,
    // COPY only when no status callback must be written with the rows (acceptRows writes the outbox in its statement).
    ...(client && !args.deps.config.webhooks.statusUrl
      ? { accept: (tx: DbOrTx, rows: Record<string, unknown>[], at: string) => copyAcceptRows(client, tx, rows, at) }
      : {}),
  });
}

/**
 * Phase 1 of a batch: the body is read as a stream (gzip, deflate or br decoded), parsed item by item, each item
 * validated on arrival and spooled to a temporary file; nothing touches the database and no lock is held, so a
 * client that trickles or stalls its upload holds up nobody but itself (docs/decisions/0006-batch-spool.md).
 * Returns the per-item validation errors and the number of items seen.
 */
async function readBatch(req: IncomingMessage, spool: Spool): Promise<{ count: number; errors: BatchResult[] }> {
  const errors: BatchResult[] = [];
  let count = 0;
  let sawArray = false;
  let parseError: Error | null = null;
  let lines: string[] = [];
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
    // Before hashing or validating: a value nested 10,000 deep would overflow the recursive hash (a RangeError, 500).
    const bad = findUnstorable(value, where);
    if (bad) {
      errors.push({ index, error: { code: "validation_failed", message: `${bad.field}: ${bad.message}`, details: [bad] } });
      return;
    }
    const v = validateItem(value, where);
    if (!v.ok) {
      const first = v.errors[0]!;
      errors.push({ index, error: { code: v.code, message: `${first.field}: ${first.message}`, details: v.errors } });
      return;
    }
    const item: IngestItem = { index, value: v.value, hash: requestHash(value), idempotencyKey: v.value.idempotencyKey ?? null, where };
    lines.push(`${JSON.stringify(item)}\n`);
  };
  let bytes = 0;
  for await (const chunk of decodedBody(req)) {
    bytes += chunk.length;
    if (bytes > MAX_BATCH_BYTES) throw new AppError("payload_too_large", `the batch body is over ${MAX_BATCH_BYTES} bytes`);
    if (!parser.isEnded) parser.write(chunk);
    if (parseError) break;
    if (count > MAX_BATCH_ITEMS) throw new AppError("payload_too_large", `at most ${MAX_BATCH_ITEMS} notifications per batch`);
    if (lines.length > 0) {
      const out = lines;
      lines = [];
      await spool.write(out.join(""));
    }
  }
  if (!parseError && !parser.isEnded) parser.end();
  if (parseError) throw new AppError("bad_request", "body is not valid JSON");
  if (!sawArray)
    throw new AppError("validation_failed", "body.notifications: an array of notifications is required", [
      { field: "body.notifications", message: "required" },
    ]);
  if (count === 0)
    throw new AppError("validation_failed", "body.notifications: at least one notification", [{ field: "body.notifications", message: "empty" }]);
  if (lines.length > 0) await spool.write(lines.join(""));
  return { count, errors };
}

/**
 * POST /notifications/batch, mounted BEFORE express.json(): up to 10,000 items, never one giant JSON tree.
 * Phase 1 (readBatch) reads and validates the whole body outside any transaction; phase 2 inserts the spooled items
 * every few hundred inside ONE transaction, and the 202 goes out only after it committed (a bad body, a dropped
 * connection or an error anywhere stores nothing). Phase 2 depends only on our own work, never on the client's pace.
 */
export function notificationsBatchRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, batchOperations.createNotificationBatch, async (req, res) => {
    if (!req.is("application/json")) throw new AppError("unsupported_media_type", "the batch body must be application/json");
    const spool = await Spool.create();
    try {
      req.setTimeout(BATCH_BODY_IDLE_MS, () => req.destroy(Object.assign(new Error("batch body idle"), { code: "ECONNABORTED" })));
      const { count, errors } = await readBatch(req, spool);
      req.setTimeout(0);
      const batchId = randomUUID();
      const results: BatchResult[] = errors;
      const keysInBatch = new Map<string, { hash: string; id: string }>();
      const release = await acquire();
      try {
        await deps.db.db.transaction(async (tx) => {
          for await (const items of spool.read<IngestItem>(CHUNK[deps.db.kind])) {
            const out = await writeBatchChunk({ tx, deps, apiKeyId: req.apiKeyId!, batchId, items, keysInBatch });
            for (const x of out) results.push(slim(x));
          }
          results.sort((a, b) => a.index - b.index);
          if (!results.some((x) => "id" in x)) throw new AppError("validation_failed", "no notification in the batch was accepted", results);
        });
      } finally {
        release();
      }
      const accepted = results.filter((x) => "id" in x).length;
      req.log.info({ batchId, items: count, accepted }, "notification batch");
      res.status(202).json({ batchId, accepted, rejected: results.length - accepted, results });
    } finally {
      await spool.remove();
    }
  });
  return r;
}
