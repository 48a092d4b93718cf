import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse as parseYaml } from "yaml";
import { type LineErrorDetail, rewriteDiscriminators, toLineDetails } from "../lib/line/spec-schemas.ts";
import { serverSrcDir } from "../lib/paths.ts";

/**
 * Request validation for the LINE emulator against LINE's own OpenAPI document (messaging-api.yml, Apache-2.0,
 * vendored in ./openapi/ with its LICENSE, so the product needs nothing outside this repository).
 *
 * Why ajv and not a whole OpenAPI router: the spec's discriminators need rewriting (lib/line/spec-schemas.ts, shared
 * with the API's acceptance check of messages), and a compiled ajv function costs microseconds, which matters on the
 * push/PNP hot paths the benchmarks drive.
 */

export const VENDORED_SPEC_URL = pathToFileURL(join(serverSrcDir, "sandbox", "openapi", "messaging-api.yml"));
export const vendoredSpecPath = () => fileURLToPath(VENDORED_SPEC_URL);

export type { LineErrorDetail };
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
const toDetails = toLineDetails;

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
