import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse as parseYaml } from "yaml";
import { serverSrcDir } from "../lib/paths.ts";

/**
 * Request validation for the LINE emulator against LINE's own OpenAPI document (messaging-api.yml, Apache-2.0,
 * vendored in ./openapi/ with its LICENSE, so the product needs nothing outside this repository).
 *
 * Why ajv and not a whole OpenAPI router: the spec models message types with `discriminator` on a base schema that
 * each subtype `allOf`s. Generic OpenAPI validators check only the base (`{type}`), so a text message without
 * `text` would pass. We rewrite each discriminator into `if type == k then <subtype>` and compile once; a compiled
 * ajv function costs microseconds, which matters on the push/PNP hot paths the benchmarks drive.
 */

export const VENDORED_SPEC_URL = pathToFileURL(join(serverSrcDir, "sandbox", "openapi", "messaging-api.yml"));
export const vendoredSpecPath = () => fileURLToPath(VENDORED_SPEC_URL);

export interface LineErrorDetail {
  message: string;
  property: string;
}
export interface ValidationResult {
  ok: boolean;
  details: LineErrorDetail[];
}
export interface OperationValidator {
  operationId: string;
  /** headers (lower-case names), query and path parameters; coerces query strings to numbers where the spec says so */
  params(input: { header: Record<string, unknown>; query: Record<string, unknown>; path: Record<string, unknown> }): ValidationResult;
  body(input: unknown): ValidationResult;
  hasBody: boolean;
}

type Json = any;
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const SPEC_ID = "line-messaging-api";
const REF_PREFIX = "#/components/schemas/";

/** Discriminator bases become `if/then` dispatchers; their subtypes `allOf` the base's plain copy instead. */
function rewriteDiscriminators(schemas: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = structuredClone(schemas);
  for (const [name, schema] of Object.entries(schemas)) {
    const d = schema?.discriminator;
    if (!d?.mapping) continue;
    const prop: string = d.propertyName;
    const base = `${name}__base`;
    const { discriminator: _d, ...plain } = out[name];
    out[base] = plain;
    const keys = Object.keys(d.mapping);
    out[name] = {
      allOf: [
        { $ref: REF_PREFIX + base },
        { properties: { [prop]: { enum: keys } } },
        ...keys.map((k) => ({
          if: { properties: { [prop]: { const: k } }, required: [prop] },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited.
          then: { $ref: d.mapping[k] },
        })),
      ],
    };
    for (const target of Object.values<string>(d.mapping)) {
      const sub = out[target.slice(REF_PREFIX.length)];
      if (!Array.isArray(sub?.allOf)) continue;
      sub.allOf = sub.allOf.map((part: Json) => (part?.$ref === REF_PREFIX + name ? { $ref: REF_PREFIX + base } : part));
    }
  }
  return out;
}

/** ajv's `/messages/0/text` → LINE's `messages[0].text`. */
function propertyOf(e: ErrorObject, prefix = ""): string {
  let p = e.instancePath
    .split("/")
    .slice(1)
    .map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
  if (e.keyword === "required") {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    p = p ? `${p}.${missing}` : missing;
  }
  return prefix ? (p ? `${prefix}.${p}` : prefix) : p;
}

function messageOf(e: ErrorObject): string {
  switch (e.keyword) {
    case "required":
      return "Must not be empty";
    case "enum":
      return `Invalid value. Must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`;
    case "maxItems":
      return `Size must be between 0 and ${(e.params as { limit: number }).limit}`;
    case "minItems":
      return `Size must be at least ${(e.params as { limit: number }).limit}`;
    case "maxLength":
      return `Length must be between 0 and ${(e.params as { limit: number }).limit}`;
    case "minLength":
      return `Length must be at least ${(e.params as { limit: number }).limit}`;
    default:
      return e.message ? e.message.charAt(0).toUpperCase() + e.message.slice(1) : "Invalid value";
  }
}

function toDetails(errors: ErrorObject[] | null | undefined, map?: (p: string) => string): LineErrorDetail[] {
  const seen = new Set<string>();
  const out: LineErrorDetail[] = [];
  for (const e of errors ?? []) {
    // `if`/`allOf` wrappers repeat what their leaf errors already say.
    if (e.keyword === "if" || e.keyword === "allOf") continue;
    let property = propertyOf(e);
    if (map) property = map(property);
    const message = messageOf(e);
    const key = `${property}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ message, property });
  }
  return out;
}

export interface OpenApiValidators {
  forOperation(operationId: string): OperationValidator;
  operationIds(): string[];
}

/** Parses and compiles the spec; cached per path (compiling takes a moment, then every check is cheap). */
const cache = new Map<string, OpenApiValidators>();

export function loadOpenApiValidators(specPath: string = vendoredSpecPath()): OpenApiValidators {
  const hit = cache.get(specPath);
  if (hit) return hit;
  const doc = parseYaml(readFileSync(specPath, "utf8")) as Json;
  const schemas = rewriteDiscriminators(doc.components?.schemas ?? {});

  // Bodies: strict types (JSON has them). Parameters: strings from a URL, coerced like a server framework would.
  const bodyAjv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
  const paramAjv = new Ajv({ allErrors: true, strict: false, coerceTypes: true, useDefaults: true });
  for (const ajv of [bodyAjv, paramAjv]) {
    addFormats(ajv);
    ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
    ajv.addSchema({ $id: SPEC_ID, components: { schemas } });
  }
  const fixRefs = (s: Json): Json => JSON.parse(JSON.stringify(s).replace(/"#\/components\//g, `"${SPEC_ID}#/components/`));

  const ops = new Map<string, Json>();
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of ["get", "post", "put", "delete", "patch"]) {
      const op = item?.[method];
      if (op?.operationId) ops.set(op.operationId, { path, method, op, shared: item.parameters ?? [] });
    }
  }
  const compiled = new Map<string, OperationValidator>();

  const forOperation = (operationId: string): OperationValidator => {
    const c = compiled.get(operationId);
    if (c) return c;
    const entry = ops.get(operationId);
    if (!entry) throw new Error(`operation ${operationId} is not in the OpenAPI document`);
    const params: Json[] = [...entry.shared, ...(entry.op.parameters ?? [])];
    const group = (where: string) => {
      const ps = params.filter((p) => p.in === where);
      const properties: Record<string, Json> = {};
      for (const p of ps) properties[where === "header" ? p.name.toLowerCase() : p.name] = p.schema ?? {};
      return {
        type: "object",
        properties,
        required: ps.filter((p) => p.required).map((p) => (where === "header" ? p.name.toLowerCase() : p.name)),
      };
    };
    const headerNames = new Map(params.filter((p) => p.in === "header").map((p) => [p.name.toLowerCase(), p.name as string]));
    const paramFn: ValidateFunction = paramAjv.compile(
      fixRefs({ type: "object", properties: { header: group("header"), query: group("query"), path: group("path") } }),
    );
    const bodySchema = entry.op.requestBody?.content?.["application/json"]?.schema;
    const bodyFn: ValidateFunction | null = bodySchema ? bodyAjv.compile(fixRefs(bodySchema)) : null;
    // Parameter errors name the parameter as LINE's docs do (`X-Line-Retry-Key`, `limit`), not `header.x-line-…`.
    const paramProperty = (p: string) => {
      const m = /^(header|query|path)\.(.+)$/.exec(p);
      if (!m) return p;
      return m[1] === "header" ? (headerNames.get(m[2]!) ?? m[2]!) : m[2]!;
    };
    const v: OperationValidator = {
      operationId,
      hasBody: !!bodyFn,
      params(input) {
        const ok = paramFn(input) as boolean;
        return ok ? { ok, details: [] } : { ok, details: toDetails(paramFn.errors, paramProperty) };
      },
      body(input) {
        if (!bodyFn) return { ok: true, details: [] };
        const ok = bodyFn(input) as boolean;
        return ok ? { ok, details: [] } : { ok, details: toDetails(bodyFn.errors) };
      },
    };
    compiled.set(operationId, v);
    return v;
  };
  const v: OpenApiValidators = { forOperation, operationIds: () => [...ops.keys()] };
  cache.set(specPath, v);
  return v;
}
