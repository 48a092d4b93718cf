import { createHmac } from "node:crypto";
import { connectionNeverMade, errorCode } from "../net.ts";
import { type SmsProvider, SmsRejectedError, SmsRetryableError } from "./types.ts";

/**
 * SMS_PROVIDER=http (docs/api.md): POST SMS_HTTP_URL with JSON `{ to, text, reference }` and header
 * `X-Signature` = hex HMAC-SHA256 of the exact body bytes with SMS_HTTP_SECRET; any 2xx means accepted.
 * A refused connection, 429 or 5xx means not accepted (retried); other 4xx are permanent; a timeout is ambiguous
 * and surfaces as a plain Error (the dispatcher never repeats an ambiguous SMS for this provider).
 */
export function createHttpSmsProvider(opts: { url: string; secret: string; timeoutMs?: number }): SmsProvider {
  return {
    name: "http",
    dedupesOnReference: false,
    async send(msg) {
      const body = JSON.stringify({ to: msg.to, text: msg.text, reference: msg.reference });
      const signature = createHmac("sha256", opts.secret).update(body, "utf8").digest("hex");
      let res: Response;
      try {
        res = await fetch(opts.url, {
          method: "POST",
          headers: { "content-type": "application/json", "x-signature": signature },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
        });
      } catch (err) {
        // Never connected: surely not accepted, safe to retry. Anything else may have reached the provider.
        if (connectionNeverMade(err)) throw new SmsRetryableError(`sms http: ${errorCode(err)}`);
        throw new Error(`sms http: no response (${err instanceof Error ? err.message : String(err)})`);
      }
      const text = await res.text().catch(() => "");
      if (res.ok) {
        let ref: string | null = null;
        try {
          const j = JSON.parse(text) as { id?: unknown; reference?: unknown };
          ref = typeof j.id === "string" ? j.id : null;
        } catch {
          /* a 2xx without JSON is still an acceptance */
        }
        return { providerReference: ref ?? msg.reference };
      }
      if (res.status === 429 || res.status >= 500) throw new SmsRetryableError(`sms http: HTTP ${res.status}`);
      throw new SmsRejectedError(`sms http: HTTP ${res.status} ${text.slice(0, 200)}`);
    },
  };
}
