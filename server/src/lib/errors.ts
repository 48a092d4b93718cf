export const errorCodes = {
  bad_request: 400,
  validation_failed: 400,
  invalid_signature: 401,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  promotional_content: 422, // the promotion guard (docs/routing.md): details name the matched words
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  override name = "AppError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.status = errorCodes[code];
  }
}

export const notFound = (what: string) => new AppError("not_found", `${what} not found`);

/**
 * An error thrown by a library on a client's mistake (body-parser and zlib: a corrupt `Content-Encoding` body, an
 * unknown encoding or charset, bad JSON, too large; the router: bad percent-encoding in the path), as our 4xx; null
 * for anything else. The library's own message is not echoed: it may quote the input.
 */
export function fromHttpError(err: unknown): AppError | null {
  if (typeof err !== "object" || err === null) return null;
  const e = err as { status?: unknown; statusCode?: unknown; type?: unknown; code?: unknown; name?: unknown };
  const status = typeof e.status === "number" ? e.status : typeof e.statusCode === "number" ? e.statusCode : NaN;
  if (e.type === "entity.too.large" || status === 413) return new AppError("payload_too_large", "request body is too large");
  if (e.type === "entity.parse.failed") return new AppError("bad_request", "body is not valid JSON");
  if (e.type === "encoding.unsupported" || e.type === "charset.unsupported" || status === 415)
    return new AppError("unsupported_media_type", "unsupported body encoding or charset");
  // zlib (`Z_DATA_ERROR`, `Z_BUF_ERROR`) and brotli (`ERR__ERROR_FORMAT_…`) decoding errors.
  if (typeof e.code === "string" && /^(?:Z_|ERR__ERROR_|ERR_BROTLI)/.test(e.code))
    return new AppError("bad_request", "the body does not match its Content-Encoding");
  if (e.name === "URIError") return new AppError("bad_request", "malformed percent-encoding in the URL");
  if (e.type === "request.aborted") return new AppError("bad_request", "the client closed the request");
  if (status >= 400 && status < 500) return new AppError("bad_request", "bad request");
  return null;
}
