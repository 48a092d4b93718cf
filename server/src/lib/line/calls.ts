import { HTTPFetchError } from "@line/bot-sdk";
import type { messagingApi } from "@line/bot-sdk";
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
    return { kind: "http_error", status: err.status, requestId, message: errorMessage(err.body), retryAfterSeconds: retryAfter(err.headers.get("retry-after")) };
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

/** Flexible LINE notification message (PNP) by phone hash, tagged so the `delivery` event can be matched. */
export async function pushPnpMessages(
  api: LineApi,
  req: { to: string; messages: messagingApi.Message[]; deliveryTag: string },
  timeoutMs = 10_000,
): Promise<LineCallResult> {
  try {
    const res = await withTimeout(api.client.pushMessagesByPhoneWithHttpInfo({ to: req.to, messages: req.messages }, req.deliveryTag), timeoutMs);
    return { kind: "ok", status: res.httpResponse.status, requestId: res.httpResponse.headers.get("x-line-request-id"), acceptedRequestId: null };
  } catch (err) {
    return classifyThrown(err);
  }
}

/** Template PNP (`/v2/bot/message/pnp/templated/push`): not in the SDK, so plain fetch (LINE notification messages reference, template API). */
export async function pushPnpTemplate(
  api: LineApi,
  req: { to: string; template: PnpTemplate; deliveryTag: string },
  timeoutMs = 10_000,
): Promise<LineCallResult> {
  let res: Response;
  try {
    res = await fetch(`${api.baseUrl}/v2/bot/message/pnp/templated/push`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${api.channelAccessToken}`,
        "x-line-delivery-tag": req.deliveryTag,
      },
      body: JSON.stringify({ to: req.to, templateKey: req.template.templateKey, ...(req.template.body ? { body: req.template.body } : {}) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return classifyThrown(err);
  }
  const text = await res.text().catch(() => "");
  const requestId = res.headers.get("x-line-request-id");
  if (res.ok) return { kind: "ok", status: res.status, requestId, acceptedRequestId: null };
  return { kind: "http_error", status: res.status, requestId, message: errorMessage(text), retryAfterSeconds: retryAfter(res.headers.get("retry-after")) };
}

/** LINE's push quota answer ("You have reached your monthly limit.") as opposed to a rate limit. */
export function isMonthlyLimit(r: LineCallResult): boolean {
  return r.kind === "http_error" && r.status === 429 && /monthly limit/i.test(r.message);
}
