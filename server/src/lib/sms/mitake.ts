import { connectionNeverMade, errorCode } from "../net.ts";
import { type SmsProvider, SmsRejectedError, SmsRetryableError } from "./types.ts";

/**
 * SMS_PROVIDER=mitake: Mitake (三竹資訊) SmSend HTTP API. POST form fields `username`, `password`, `dstaddr`
 * (a Taiwan mobile as 09xxxxxxxx, others in international form), `smbody`, `clientid` (our notification id: Mitake
 * drops a repeated clientid, which makes a retry after a timeout safe) with `CharsetURL=UTF8`. The answer is
 * INI-like text: `[1]\nmsgid=…\nstatuscode=…\nAccountPoint=…` (and `Duplicate=Y` for a repeated clientid).
 * statuscode 0/1/2/4 = accepted; a letter or `*` is an account/system error.
 */
export function createMitakeSmsProvider(opts: { url: string; username: string; password: string; timeoutMs?: number }): SmsProvider {
  return {
    name: "mitake",
    dedupesOnReference: true,
    async send(msg) {
      const url = new URL(opts.url);
      url.searchParams.set("CharsetURL", "UTF8");
      const form = new URLSearchParams({
        username: opts.username,
        password: opts.password,
        dstaddr: mitakeNumber(msg.to),
        smbody: msg.text,
        clientid: msg.reference.slice(0, 36),
      });
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
        });
      } catch (err) {
        // Never connected: surely not accepted, safe to retry. Anything else may have reached the provider.
        if (connectionNeverMade(err)) throw new SmsRetryableError(`mitake: ${errorCode(err)}`);
        throw new Error(`mitake: no response (${err instanceof Error ? err.message : String(err)})`);
      }
      const text = await res.text().catch(() => "");
      if (res.status === 429 || res.status >= 500) throw new SmsRetryableError(`mitake: HTTP ${res.status}`);
      if (!res.ok) throw new SmsRejectedError(`mitake: HTTP ${res.status}`);
      const r = parseMitakeResponse(text);
      if (r.statuscode !== null && ["0", "1", "2", "4"].includes(r.statuscode)) return { providerReference: r.msgid ?? msg.reference };
      // Temporary service stops ('*' system error, 'a'/'b'/'r' suspended): not accepted, retry later.
      if (r.statuscode === null || ["*", "a", "b", "r"].includes(r.statuscode)) throw new SmsRetryableError(`mitake: statuscode ${r.statuscode ?? "missing"}`);
      throw new SmsRejectedError(`mitake: statuscode ${r.statuscode}${r.error ? ` (${r.error})` : ""}`);
    },
  };
}

export function parseMitakeResponse(text: string): { msgid: string | null; statuscode: string | null; duplicate: boolean; error: string | null } {
  const kv = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return {
    msgid: kv.get("msgid") ?? null,
    statuscode: kv.get("statuscode") ?? null,
    duplicate: (kv.get("duplicate") ?? "").toUpperCase() === "Y",
    error: kv.get("error") ?? null,
  };
}

/** E.164 → what Mitake expects: a Taiwan mobile in its domestic form, other countries without the "+". */
export function mitakeNumber(e164: string): string {
  if (e164.startsWith("+886")) return `0${e164.slice(4)}`;
  return e164.replace(/^\+/, "");
}
