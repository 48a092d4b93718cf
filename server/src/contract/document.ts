import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { audienceOperations } from "../dashboard/audience.ts";
import { failuresOperations } from "../dashboard/failures.ts";
import { seriesOperations } from "../dashboard/series.ts";
import { statementOperations } from "../dashboard/statement.ts";
import { statsOperations } from "../dashboard/stats.ts";
import { errorCodes } from "../lib/errors.ts";
import { type ApiOperation, defineOperations, errorBody } from "../lib/openapi.ts";
import { serverSrcDir } from "../lib/paths.ts";
import { recordsOperations } from "../liff/records.ts";
import { membersOperations } from "../members/router.ts";
import { batchOperations } from "../notify/batch.ts";
import { notificationsOperations } from "../notify/router.ts";
import { scenariosOperations } from "../notify/scenarios.ts";
import { webhookDeliveriesOperations } from "../outbox/router.ts";

/**
 * The published contract: an OpenAPI 3.1 document assembled from the operations each feature router declares next
 * to its handlers (lib/openapi.ts), their zod schemas converted by zod's own `z.toJSONSchema` (JSON Schema 2020-12,
 * what OpenAPI 3.1 uses): requests as zod parses them (`io: "input"`), responses as the handlers produce them.
 * LINE message objects are LINE's own `Message` schema, included as `Line*` components from LINE's OpenAPI document
 * (lib/line/generated/message-schemas.json). A new endpoint: declare it in its router's operations and add the list
 * to `API_OPERATIONS` below; test/src/contract fails for any /api/v1 route that is mounted but not declared.
 */

export const API_PREFIX = "/api/v1";

/** The document itself (served by contract/router.ts). */
export const contractOperations = defineOperations({
  getOpenApiDocument: {
    operationId: "getOpenApiDocument",
    method: "get",
    path: "/openapi.json",
    tag: "contract",
    summary: "This OpenAPI 3.1 document (no API key needed)",
    public: true,
    responses: { 200: { description: "the document", schema: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }) } },
  },
});

export const API_OPERATIONS: readonly ApiOperation[] = [
  ...Object.values(notificationsOperations),
  ...Object.values(batchOperations),
  ...Object.values(membersOperations),
  ...Object.values(scenariosOperations),
  ...Object.values(recordsOperations),
  ...Object.values(statsOperations),
  ...Object.values(seriesOperations),
  ...Object.values(statementOperations),
  ...Object.values(failuresOperations),
  ...Object.values(audienceOperations),
  ...Object.values(webhookDeliveriesOperations),
  ...Object.values(contractOperations),
];

type Json = any;
const REF = "#/components/schemas/";
const LINE_PREFIX = "Line";

/** `/members/:memberId` → `/api/v1/members/{memberId}` */
export const openApiPath = (expressPath: string) => API_PREFIX + expressPath.replace(/:(\w+)/g, "{$1}");
const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const isWrite = (op: ApiOperation) => op.method !== "get";

/** LINE's message schemas, their names and references prefixed (`Message` → `LineMessage`). */
function lineComponents(): Record<string, Json> {
  const file = JSON.parse(readFileSync(join(serverSrcDir, "lib", "line", "generated", "message-schemas.json"), "utf8")) as {
    schemas: Record<string, Json>;
  };
  const text = JSON.stringify(file.schemas).replaceAll(`"${REF}`, `"${REF}${LINE_PREFIX}`);
  const schemas = JSON.parse(text) as Record<string, Json>;
  return Object.fromEntries(Object.entries(schemas).map(([k, v]) => [LINE_PREFIX + k, v]));
}

/**
 * Where our schema says "a LINE `Message`": LINE's base schema carries a discriminator whose subtypes `allOf` it, which
 * generators (openapi-typescript among them) type as the base alone. So it is written as the `oneOf` of the subtypes
 * with the same discriminator, which every generator turns into a union (`LineTextMessage | LineStickerMessage | …`).
 */
function lineRef(line: Record<string, Json>, name: string): Json {
  const d = line[LINE_PREFIX + name]?.discriminator;
  if (!d?.mapping) return { $ref: REF + LINE_PREFIX + name };
  const mapping = Object.fromEntries(Object.entries<string>(d.mapping));
  return { oneOf: [...new Set(Object.values(mapping))].map(($ref) => ({ $ref })), discriminator: { propertyName: d.propertyName, mapping } };
}

/** Converts every registered schema in one direction; named (`.meta({ id })`) schemas become components too. */
function convert(registry: z.core.$ZodRegistry<{ id: string }>, io: "input" | "output", line: Record<string, Json>): Record<string, Json> {
  const out = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
    uri: (id) => REF + id,
    override: (ctx) => {
      const js = ctx.jsonSchema as Json;
      const lineName = js["x-line-schema"];
      if (typeof lineName === "string") {
        for (const k of Object.keys(js)) delete js[k];
        Object.assign(js, lineRef(line, lineName));
      }
    },
  }) as { schemas: Record<string, Json> };
  const { __shared, ...schemas } = out.schemas;
  const all: Record<string, Json> = { ...schemas, ...(__shared?.$defs ?? {}) };
  const text = JSON.stringify(all).replace(/"#\/components\/schemas\/__shared#\/\$defs\//g, `"${REF}`);
  const fixed = JSON.parse(text) as Record<string, Json>;
  for (const s of Object.values(fixed)) {
    delete s.$schema;
    delete s.$id;
  }
  return fixed;
}

/** The component names a schema reaches. */
function reached(schemas: Record<string, Json>, roots: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !schemas[name]) return;
    seen.add(name);
    for (const m of JSON.stringify(schemas[name]).matchAll(/"#\/components\/schemas\/([^"#]+)"/g)) visit(m[1]!);
  };
  for (const r of roots) visit(r);
  return seen;
}

function parameters(where: "path" | "query" | "header", schema: z.ZodObject | undefined): Json[] {
  if (!schema) return [];
  const js = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input", unrepresentable: "any" }) as Json;
  const required = new Set<string>(js.required ?? []);
  return Object.entries<Json>(js.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: where, required: where === "path" || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

let cached: Json | null = null;

/** The whole document; pure and built once per process. */
export function buildOpenApiDocument(): Json {
  if (cached) return cached;
  const requests = z.registry<{ id: string }>();
  const responses = z.registry<{ id: string }>();
  const requestRoots: string[] = [];
  const responseRoots: string[] = ["Error"];
  responses.add(errorBody, { id: "Error" });
  const idOf = (reg: z.core.$ZodRegistry<{ id: string }>, schema: z.ZodType, id: string) => {
    const meta = z.globalRegistry.get(schema) as { id?: string } | undefined;
    if (meta?.id) return meta.id;
    const have = reg.get(schema);
    if (have) return have.id;
    reg.add(schema, { id });
    return id;
  };
  const paths: Record<string, Json> = {};
  for (const op of API_OPERATIONS) {
    const name = pascal(op.operationId);
    const body = op.request?.body;
    let requestBody: Json;
    if (body) {
      const id = idOf(requests, body, `${name}Request`);
      if (!requests.get(body)) requests.add(body, { id });
      requestRoots.push(id);
      requestBody = {
        required: true,
        content: { "application/json": { schema: { $ref: REF + id } } },
        ...(op.request?.encodedBody ? { description: "May be sent with `Content-Encoding: gzip`, `deflate` or `br`." } : {}),
      };
    }
    const res: Record<string, Json> = {};
    const err = (status: number, description: string) =>
      (res[status] ??= { description, content: { "application/json": { schema: { $ref: `${REF}Error` } } } });
    for (const [status, r] of Object.entries(op.responses)) {
      if (!r.schema) res[status] = { description: r.description };
      else if (r.schema === errorBody) err(Number(status), r.description);
      else {
        const id = idOf(responses, r.schema, `${name}Response${status}`);
        if (!responses.get(r.schema)) responses.add(r.schema, { id });
        responseRoots.push(id);
        res[status] = { description: r.description, content: { "application/json": { schema: { $ref: REF + id } } } };
      }
    }
    // What every operation can answer (app.ts): bad input anywhere (query included) and our own failure; then the
    // API key, a read-only key on a write, and a JSON body's size and encoding.
    err(errorCodes.validation_failed, "bad input: `details` names each bad field (`body.phone`, `query.limit`)");
    if (!op.public) err(errorCodes.unauthorized, "missing or invalid API key");
    if (!op.public && isWrite(op)) err(errorCodes.forbidden, "a read-only key (API_KEYS_READONLY) may only read");
    if (body) {
      err(errorCodes.payload_too_large, "the body is too large");
      err(errorCodes.unsupported_media_type, "an unknown Content-Encoding or charset");
    }
    err(errorCodes.internal, "internal error");
    const sorted = Object.fromEntries(Object.entries(res).sort(([a], [b]) => Number(a) - Number(b)));
    const path = openApiPath(op.path);
    (paths[path] ??= {})[op.method] = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.public ? { security: [] } : {}),
      parameters: [...parameters("path", op.request?.params), ...parameters("query", op.request?.query), ...parameters("header", op.request?.headers)],
      ...(requestBody ? { requestBody } : {}),
      responses: sorted,
    };
  }
  // Requests as zod parses them, responses as the handlers write them; a name both use takes the response's form.
  const line = lineComponents();
  const inSchemas = convert(requests, "input", line);
  const outSchemas = convert(responses, "output", line);
  const schemas: Record<string, Json> = {};
  for (const n of reached(inSchemas, requestRoots)) schemas[n] = inSchemas[n];
  for (const n of reached(outSchemas, responseRoots)) schemas[n] = outSchemas[n];
  for (const n of reached({ ...line, ...schemas }, Object.keys(schemas))) if (line[n]) schemas[n] = line[n];
  cached = {
    openapi: "3.1.0",
    info: {
      title: "oa-notify API",
      version: "1.0.0",
      description:
        "Transactional notices to Taiwanese customers through LINE (push, notification messages) with SMS fallback. Every error is `{ error: { code, message, details? } }`. LINE message objects follow LINE's Messaging API schema (`Line*` components, from LINE's own OpenAPI document, Apache-2.0).",
    },
    servers: [{ url: "/" }],
    security: [{ apiKey: [] }],
    tags: [
      { name: "notifications", description: "send, follow and cancel notices" },
      { name: "members", description: "your customers, their LINE binding and friendship" },
      { name: "scenarios", description: "the account's use cases, which are approved for PNP, and their ignore lines" },
      { name: "records", description: "orders and bills: the next-step pages notices link to" },
      { name: "webhooks", description: "status callbacks and LINE webhook forwards: the outbox, its failures and replays" },
      { name: "stats", description: "the dashboard's figures" },
      { name: "contract", description: "this document" },
    ],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "An API key: API_KEYS (read and write) or API_KEYS_READONLY (GET only; anything else is a 403).",
        },
      },
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
  return cached;
}
