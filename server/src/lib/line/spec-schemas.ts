import type { ErrorObject } from "ajv";

/**
 * The parts of LINE's OpenAPI document (messaging-api.yml, vendored in server/src/sandbox/openapi/) that both the
 * sandbox's emulator (compiled at run time, sandbox/openapi.ts) and the API's acceptance check (compiled at build
 * time into ./generated/, lib/line/messages.ts) use: the discriminator rewrite, the closure of a schema's references,
 * and LINE's error shape from ajv's errors. Types only from ajv: nothing here loads it.
 */

type Json = any;
export const REF_PREFIX = "#/components/schemas/";

export interface LineErrorDetail {
  message: string;
  property: string;
}

/**
 * The spec models message types with `discriminator` on a base schema that each subtype `allOf`s. Generic validators
 * check only the base (`{type}`), so a text message without `text` would pass. Discriminator bases become
 * `if type == k then <subtype>` dispatchers; their subtypes `allOf` the base's plain copy instead.
 */
export function rewriteDiscriminators(schemas: Record<string, Json>): Record<string, Json> {
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

/** The names of `root` and of every component schema it reaches (`$ref`s and discriminator mappings), sorted. */
export function schemaClosure(schemas: Record<string, Json>, root: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !schemas[name]) return;
    seen.add(name);
    const walk = (v: Json) => {
      if (typeof v === "string" && v.startsWith(REF_PREFIX)) visit(v.slice(REF_PREFIX.length));
      else if (Array.isArray(v)) for (const x of v) walk(x);
      else if (v && typeof v === "object") for (const x of Object.values(v)) walk(x);
    };
    walk(schemas[name]);
  };
  visit(root);
  return [...seen].sort();
}

/** ajv's `/messages/0/text` → LINE's `messages[0].text`. */
function propertyOf(e: ErrorObject): string {
  let p = e.instancePath
    .split("/")
    .slice(1)
    .map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
  if (e.keyword === "required") {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    p = p ? `${p}.${missing}` : missing;
  }
  return p;
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

/** ajv's errors as LINE words them (`{ message, property }`), without the `if`/`allOf` wrappers and duplicates. */
export function toLineDetails(errors: ErrorObject[] | null | undefined, map?: (p: string) => string): LineErrorDetail[] {
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
