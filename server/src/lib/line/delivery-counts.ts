import type { LineApi } from "./client.ts";

/** The kinds of message LINE counts per day: push, flexible PNP and template PNP. */
export const LINE_COUNT_KINDS = ["push", "pnp", "pnp_template"] as const;
export type LineCountKind = (typeof LINE_COUNT_KINDS)[number];

/**
 * LINE's answer for one day: `ready` with the number of messages sent (delivered), `unready` while the day is not
 * counted yet, `out_of_service` for a day before LINE kept counts, or `error` when the call failed.
 */
export type LineDayCount = { status: "ready"; success: number } | { status: "unready" | "out_of_service" } | { status: "error"; message: string };

/**
 * GET /v2/bot/message/delivery/{push,pnp,pnp/templated}?date=yyyyMMdd (Messaging API, "Get number of sent push
 * messages", and LINE notification messages' "Get number of sent LINE notification messages"). `date` is LINE's
 * UTC+9 day. Push and flexible PNP go through the SDK; template PNP has no SDK method, so it is a plain fetch.
 */
export async function fetchLineDayCount(api: LineApi, kind: LineCountKind, date: string, timeoutMs = 10_000): Promise<LineDayCount> {
  const yyyymmdd = date.replaceAll("-", "");
  try {
    let body: { status?: string; success?: number };
    // The SDK's calls take no signal: a call that hangs is cut off here and reported as an error.
    if (kind === "push") body = await withTimeout(api.client.getNumberOfSentPushMessages(yyyymmdd), timeoutMs);
    else if (kind === "pnp") body = await withTimeout(api.client.getPNPMessageStatistics(yyyymmdd), timeoutMs);
    else {
      const res = await fetch(`${api.baseUrl}/v2/bot/message/delivery/pnp/templated?date=${yyyymmdd}`, {
        headers: { authorization: `Bearer ${api.channelAccessToken}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) return { status: "error", message: `HTTP ${res.status}` };
      body = (await res.json()) as typeof body;
    }
    if (body.status === "ready") return { status: "ready", success: Number(body.success ?? 0) };
    if (body.status === "unready" || body.status === "out_of_service") return { status: body.status };
    return { status: "error", message: `unexpected status ${String(body.status)}` };
  } catch (err) {
    return { status: "error", message: err instanceof Error ? err.message.slice(0, 200) : String(err) };
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no response within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
