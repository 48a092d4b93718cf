import type { LineCallResult } from "../../lib/line/calls.ts";
import type { Outcome } from "./types.ts";

/** A LINE call's result in the dispatcher's terms; `detail` goes on the timeline when accepted. */
export function lineOutcome(res: LineCallResult, detail: Record<string, unknown>): Outcome {
  if (res.kind === "ok")
    return {
      kind: "accepted",
      detail: { ...detail, status: res.status, requestId: res.requestId, ...(res.acceptedRequestId ? { acceptedRequestId: res.acceptedRequestId } : {}) },
    };
  if (res.kind === "no_response")
    return res.notSent ? { kind: "retry", reason: `no connection: ${res.error}` } : { kind: "unknown", reason: `no response (${res.error})` };
  const reason = `LINE ${res.status}: ${res.message}`;
  if (res.status === 429 && /monthly limit/i.test(res.message)) return { kind: "refused", reason: "push quota: monthly limit reached (429)", quota: true };
  if (res.status === 429) return { kind: "retry", reason: "rate limited (429)", retryAfterSeconds: res.retryAfterSeconds, rateLimited: true };
  if (res.status >= 500) return { kind: "retry", reason };
  if (res.status === 422)
    return { kind: "refused", reason: "LINE 422: no LINE account for this number, or the user refused notification messages", unreachable: true };
  return { kind: "refused", reason };
}
