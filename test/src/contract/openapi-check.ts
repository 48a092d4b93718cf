import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

/**
 * Checks real responses against the served OpenAPI document: the status must be declared for the operation, and the
 * body must match the declared schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). Records what was exercised.
 */
type Json = any;
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export interface ContractChecker {
  /** the operation for a method and a concrete path (`/api/v1/notifications/<uuid>`) */
  operation(method: string, path: string): { template: string; op: Json };
  /** asserts one response against the document; returns the problems (empty: conforms) */
  check(method: string, path: string, status: number, body: unknown, contentType?: string): string[];
  /** operationId → statuses seen */
  seen: Map<string, Set<number>>;
}

export function contractChecker(doc: Json): ContractChecker {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema({ $id: "api", components: doc.components });
  const templates = Object.keys(doc.paths).map((t) => ({
    t,
    re: new RegExp(`^${t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\\{\w+\\\}/g, "[^/]+")}$`),
  }));
  const seen = new Map<string, Set<number>>();
  const compiled = new Map<string, ReturnType<Ajv2020["compile"]>>();
  const operation = (method: string, path: string) => {
    const p = path.split("?")[0]!;
    // A literal segment wins over a parameter (`/notifications/batch` over `/notifications/{id}`).
    const hits = templates.filter((x) => x.re.test(p) && doc.paths[x.t][method.toLowerCase()]);
    hits.sort((a, b) => (a.t.match(/\{/g)?.length ?? 0) - (b.t.match(/\{/g)?.length ?? 0));
    const hit = hits[0];
    if (!hit) throw new Error(`${method} ${p} is not in the OpenAPI document`);
    return { template: hit.t, op: doc.paths[hit.t][method.toLowerCase()] };
  };
  return {
    operation,
    seen,
    check(method, path, status, body, contentType = "application/json") {
      const { template, op } = operation(method, path);
      let set = seen.get(op.operationId);
      if (!set) seen.set(op.operationId, (set = new Set()));
      set.add(status);
      const declared = op.responses[String(status)];
      if (!declared) return [`${method} ${template}: status ${status} is not declared (declared: ${Object.keys(op.responses).join(", ")})`];
      const schema = declared.content?.["application/json"]?.schema;
      if (!schema) return [];
      if (!contentType.startsWith("application/json")) return [`${method} ${template} ${status}: content-type ${contentType}, declared JSON`];
      const ref = `api${schema.$ref}`;
      let v = compiled.get(ref);
      if (!v) compiled.set(ref, (v = ajv.compile({ $ref: ref })));
      return v(body) ? [] : (v.errors ?? []).map((e) => `${method} ${template} ${status}: ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
    },
  };
}

/** `app.express`'s routes, mount paths included: `[method, path]` (express syntax, `/api/v1/members/:memberId`). */
export function mountedRoutes(stack: Json[], prefix = ""): [string, string][] {
  const out: [string, string][] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths = ([] as string[]).concat(layer.route.path);
      for (const m of Object.keys(layer.route.methods).filter((k) => k !== "_all")) for (const p of paths) out.push([m, prefix + p]);
    } else if (Array.isArray(layer.handle?.stack)) {
      const mount = layer.slash ? "" : ([] as string[]).concat(layer.rawPath ?? "")[0]!;
      out.push(...mountedRoutes(layer.handle.stack, prefix + mount));
    }
  }
  return out;
}
