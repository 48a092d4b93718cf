import type { RequestHandler, Router } from "express";
import { z } from "zod";
import { errorCodes } from "./errors.ts";

/**
 * How a feature router declares its endpoints for the published contract (GET /api/v1/openapi.json, docs/api.md):
 * one `ApiOperation` per endpoint, next to its handler, holding the zod schemas the handler validates with. The
 * document (server/src/contract/document.ts) is assembled from these declarations, so there is no second copy; a
 * contract test checks real responses against it and that every mounted /api/v1 route is declared.
 */
export type HttpMethod = "get" | "post" | "put" | "delete" | "patch";

export interface ApiResponse {
  description: string;
  /** the JSON body; absent: no body */
  schema?: z.ZodType;
}

export interface ApiOperation {
  operationId: string;
  method: HttpMethod;
  /** express-style, relative to /api/v1: `/members/:memberId` */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  /** no API key needed (the document itself) */
  public?: boolean;
  request?: {
    params?: z.ZodObject;
    query?: z.ZodObject;
    headers?: z.ZodObject;
    /** a JSON body */
    body?: z.ZodType;
    /** the body may be sent gzip/deflate/br encoded */
    encodedBody?: boolean;
  };
  /** the success responses and the errors particular to this operation (404, 409, 422…) */
  responses: Record<number, ApiResponse>;
}

/** Declares a router's operations (a typed identity: keeps the literal keys for `ops.createNotification`). */
export const defineOperations = <const T extends Record<string, ApiOperation>>(ops: T): T => ops;

/** Mounts `handler` at the operation's method and path, so both are written once. */
export function mount(r: Router, op: ApiOperation, ...handlers: RequestHandler[]): void {
  r[op.method](op.path, ...handlers);
}

/** Every error's body (app.ts errorHandler). */
export const errorBody = z
  .object({
    error: z
      .object({
        code: z.enum(Object.keys(errorCodes) as [keyof typeof errorCodes, ...(keyof typeof errorCodes)[]]),
        message: z.string(),
        details: z.unknown().optional(),
      })
      .strict(),
  })
  .strict()
  .meta({ description: "Every error: a stable `code`, a human `message`, and for validation errors `details` naming each bad field." });

/** An error response of this operation (`{ error: { code, message, details? } }`). */
export const errorResponse = (description: string): ApiResponse => ({ description, schema: errorBody });

/** ISO 8601 date-time strings as the API returns them (`Date#toISOString`). */
export const isoString = () => z.string().meta({ format: "date-time" });
