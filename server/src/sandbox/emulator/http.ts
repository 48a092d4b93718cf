import type { IncomingMessage } from "node:http";
import { type LineErrorDetail, loadOpenApiValidators, type OperationValidator } from "../openapi.ts";

/**
 * What every emulator endpoint shares: the request context a handler gets, its result, LINE's error answers, and the
 * request checks (LINE's OpenAPI document, vendored in ../openapi/, plus the documented limits it does not carry).
 * Errors are LINE's `{ message, details[] }` (https://developers.line.biz/en/reference/messaging-api/, "Error responses").
 */

export type Endpoint = "push" | "multicast" | "pnp" | "pnp_template" | "followers" | "profile" | "quota" | "stats" | "jwks" | "verify";

export interface Ctx {
  req: IncomingMessage;
  /** the parsed JSON body (the raw form text for `verify`) */
  body: any;
  query: URLSearchParams;
  requestId: string;
  retryKey?: string;
  deliveryTag?: string;
  params: Record<string, string>;
}
export interface Result {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
export type Handler = (ctx: Ctx) => Result | Promise<Result>;
export type Handlers<E extends Endpoint> = Record<E, Handler>;

/**
 * A LINE error answer, thrown by a handler. Deliberately not an Error: 4xx answers are ordinary traffic (a
 * benchmark's unknown numbers get a 422 each), and an Error would capture a stack trace for every one of them.
 */
export class HttpError {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {}
}
export const badRequest = (details: LineErrorDetail[]) => new HttpError(400, { message: `The request body has ${details.length} error(s)`, details });

export const AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid.";

export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export interface RequestChecks {
  /** headers, query and path parameters of an operation in the spec */
  params(opId: string, ctx: Ctx): void;
  body(opId: string, ctx: Ctx): void;
  /** text ≤ 5,000 characters, not empty: LINE's documented limit, not a schema keyword in the spec */
  texts(messages: any[]): void;
  /** X-Line-Retry-Key is accepted by push/multicast/narrowcast/broadcast only; anywhere else LINE answers 400 */
  noRetryKey(ctx: Ctx): void;
  /** X-Line-Delivery-Tag: 16–100 characters (https://developers.line.biz/en/reference/line-notification-messages/) */
  deliveryTag(ctx: Ctx): void;
}

const OPERATIONS = ["pushMessage", "multicast", "pushMessagesByPhone", "getFollowers", "getProfile", "getPNPMessageStatistics", "getNumberOfSentPushMessages"];

export function createRequestChecks(validate: boolean): RequestChecks {
  // Compiled once per process; each check is then a few microseconds.
  const spec = validate ? loadOpenApiValidators() : null;
  const ops: Partial<Record<string, OperationValidator>> = {};
  if (spec) {
    for (const id of OPERATIONS) {
      try {
        ops[id] = spec.forOperation(id);
      } catch {
        /* an operation missing from an older spec copy: served without validation */
      }
    }
  }
  return {
    params(opId, ctx) {
      const v = ops[opId];
      if (!v) return;
      const header: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(ctx.req.headers)) if (typeof val === "string") header[k] = val;
      const query: Record<string, unknown> = {};
      for (const [k, val] of ctx.query) query[k] = val;
      const r = v.params({ header, query, path: { ...ctx.params } });
      if (!r.ok) throw badRequest(r.details);
    },
    body(opId, ctx) {
      const v = ops[opId];
      if (!v) return;
      const r = v.body(ctx.body);
      if (!r.ok) throw badRequest(r.details);
    },
    texts(messages) {
      const details: LineErrorDetail[] = [];
      messages.forEach((m, i) => {
        if (m?.type === "text" && typeof m.text === "string") {
          if (m.text.length === 0) details.push({ message: "May not be empty", property: `messages[${i}].text` });
          else if (m.text.length > 5000) details.push({ message: "Length must be between 0 and 5000", property: `messages[${i}].text` });
        }
      });
      if (details.length) throw badRequest(details);
    },
    noRetryKey(ctx) {
      if (ctx.retryKey !== undefined) {
        throw new HttpError(400, {
          message: "The X-Line-Retry-Key header is not supported by this API",
          details: [{ message: "Not supported", property: "X-Line-Retry-Key" }],
        });
      }
    },
    deliveryTag(ctx) {
      const t = ctx.deliveryTag;
      if (t !== undefined && (t.length < 16 || t.length > 100)) {
        throw badRequest([{ message: "Length must be between 16 and 100", property: "X-Line-Delivery-Tag" }]);
      }
    },
  };
}
