import type { messagingApi } from "@line/bot-sdk";
import { HTTPFetchError } from "@line/bot-sdk";
import { connectionNeverMade, errorCode } from "../net.ts";
import type { LineApi } from "./client.ts";

/**
 * The outcome of one send call, classified the way the dispatcher must reason about it:
 * - `ok`: LINE accepted (push 200, or 409 = the retry key was already accepted; PNP 200/202).
 * - `http_error`: LINE answered with an error; it did NOT accept ("the messages aren't sent if an error is returned").
 * - `no_response`: the request may or may not have reached LINE (timeout, reset). `notSent` is true only when the
 *   connection was never established, so the request surely did not reach LINE.
 */
export type LineCallResult =
  | { kind: "ok"; status: number; requestId: string | null; acceptedRequestId: string | null }
  | { kind: "http_error"; status: number; requestId: string | null; message: string; retryAfterSeconds: number | null }
  | { kind: "no_response"; error: string; notSent: boolean };

export interface PnpTemplate {
  templateKey: string;
  body?: {
    emphasizedItem?: { itemKey: string; content: string };
    items?: { itemKey: string; content: string }[];
    buttons?: { buttonKey: string; url: string }[];
  };
}

function retryAfter(h: string | null): number | null {
  if (!h) return null;
  const n = Number(h);
  if (Number.isFinite(n) && n >= 0) return n;
  const d = Date.parse(h);
  return Number.isFinite(d) ? Math.max(0, (d - Date.now()) / 1000) : null;
}

function errorMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === "string" ? m : body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

function classifyThrown(err: unknown): LineCallResult {
  if (err instanceof HTTPFetchError) {
    const requestId = err.headers.get("x-line-request-id");
    if (err.status === 409) {
      // A retry key LINE has already accepted: the message went out on an earlier attempt.
      return { kind: "ok", status: 409, requestId, acceptedRequestId: err.headers.get("x-line-accepted-request-id") };
    }
    return {
      kind: "http_error",
      status: err.status,
      requestId,
      message: errorMessage(err.body),
      retryAfterSeconds: retryAfter(err.headers.get("retry-after")),
    };
  }
  const code = errorCode(err);
  return { kind: "no_response", error: err instanceof Error ? `${err.message}${code ? ` (${code})` : ""}` : String(err), notSent: connectionNeverMade(err) };
}

class CallTimeout extends Error {
  override name = "CallTimeout";
}

// The SDK's fetch has no timeout option: a call that hangs is treated as having no response (ambiguous).
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CallTimeout(`no response within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Messaging API push with `X-Line-Retry-Key` (always given: a request without one can never be retried safely). */
export async function pushMessage(
  api: LineApi,
  req: { to: string; messages: messagingApi.Message[]; retryKey: string },
  timeoutMs = 10_000,
): Promise<LineCallResult> {
  try {
    const res = await withTimeout(api.client.pushMessageWithHttpInfo({ to: req.to, messages: req.messages }, req.retryKey), timeoutMs);
    return { kind: "ok", status: res.httpResponse.status, requestId: res.httpResponse.headers.get("x-line-request-id"), acceptedRequestId: null };
  } catch (err) {
    return classifyThrown(err);
  }
}

/**
 * A PNP call whose request is complete only on `release()`: the connection, the headers and all of the body but its
 * last byte go out at once; the last byte goes when the caller has committed its sent-marker. Until then LINE holds
 * an incomplete request it cannot act on (and the truncated JSON could not even parse), so a crash before release
 * loses nothing and sends nothing: the marker's window is the call itself (docs/states.md, "crash window").
 * `abort()` drops the request unsent (the marker's guard refused). A failure before release is `notSent`.
 */
export interface HeldCall {
  release(): void;
  abort(): void;
  result: Promise<LineCallResult>;
}

function heldPost(api: LineApi, path: string, headers: Record<string, string>, payload: unknown, timeoutMs: number): HeldCall {
  const body = Buffer.from(JSON.stringify(payload), "utf8");
  let control!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      control = c;
      c.enqueue(body.subarray(0, body.length - 1));
    },
  });
  const abort = new AbortController();
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const result = (async (): Promise<LineCallResult> => {
    try {
      const res = await fetch(`${api.baseUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(body.length), authorization: `Bearer ${api.channelAccessToken}`, ...headers },
        body: stream,
        duplex: "half",
        signal: abort.signal,
      } as RequestInit);
      const text = await res.text().catch(() => "");
      const requestId = res.headers.get("x-line-request-id");
      if (res.ok) return { kind: "ok", status: res.status, requestId, acceptedRequestId: null };
      return { kind: "http_error", status: res.status, requestId, message: errorMessage(text), retryAfterSeconds: retryAfter(res.headers.get("retry-after")) };
    } catch (err) {
      const r = classifyThrown(abort.signal.aborted && released ? new CallTimeout(`no response within ${timeoutMs} ms`) : err);
      // Before release the request was never complete: LINE cannot have acted on it.
      return r.kind === "no_response" && !released ? { ...r, notSent: true } : r;
    } finally {
      clearTimeout(timer);
    }
  })();
  return {
    result,
    release() {
      if (released || abort.signal.aborted) return;
      released = true;
      timer = setTimeout(() => abort.abort(), timeoutMs);
      try {
        control.enqueue(body.subarray(body.length - 1));
        control.close();
      } catch {
        // the request already failed (its result says how)
      }
    },
    abort() {
      if (!released) abort.abort();
    },
  };
}

/** Flexible LINE notification message (PNP) by phone hash, tagged so the `delivery` event can be matched; held (above). */
export function holdPnpMessages(api: LineApi, req: { to: string; messages: messagingApi.Message[]; deliveryTag: string }, timeoutMs = 10_000): HeldCall {
  return heldPost(api, "/bot/pnp/push", { "x-line-delivery-tag": req.deliveryTag }, { to: req.to, messages: req.messages }, timeoutMs);
}

/** Template PNP (`/v2/bot/message/pnp/templated/push`, not in the SDK; LINE notification messages reference, template API); held (above). */
export function holdPnpTemplate(api: LineApi, req: { to: string; template: PnpTemplate; deliveryTag: string }, timeoutMs = 10_000): HeldCall {
  const payload = { to: req.to, templateKey: req.template.templateKey, ...(req.template.body ? { body: req.template.body } : {}) };
  return heldPost(api, "/v2/bot/message/pnp/templated/push", { "x-line-delivery-tag": req.deliveryTag }, payload, timeoutMs);
}

/** LINE's push quota answer ("You have reached your monthly limit.") as opposed to a rate limit. */
export function isMonthlyLimit(r: LineCallResult): boolean {
  return r.kind === "http_error" && r.status === 429 && /monthly limit/i.test(r.message);
}
