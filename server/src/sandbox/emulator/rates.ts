import type { AcceptedRecord, EndpointRates } from "./types.ts";

export type { EndpointRates };

/**
 * What LINE's rate limiter would see (2,000 requests/s per endpoint): one multicast is one request whatever its
 * recipients, so requests are counted by request id, at the time the emulator accepted them.
 */
export function acceptedRates(log: readonly AcceptedRecord[]): Record<AcceptedRecord["kind"], EndpointRates> {
  const times: Record<AcceptedRecord["kind"], number[]> = { push: [], pnp: [], pnp_template: [] };
  const seen = new Set<string>();
  for (const a of log) {
    if (seen.has(a.requestId)) continue;
    seen.add(a.requestId);
    times[a.kind].push(Date.parse(a.at));
  }
  const rates = (t: number[]): EndpointRates => {
    t.sort((a, b) => a - b);
    const perSecond = new Map<string, number>();
    let peakWindow = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      const sec = new Date(Math.floor(t[i]! / 1000) * 1000).toISOString();
      perSecond.set(sec, (perSecond.get(sec) ?? 0) + 1);
      while (t[i]! - t[j]! >= 1000) j++;
      peakWindow = Math.max(peakWindow, i - j + 1);
    }
    return { perSecond: [...perSecond], peakWindow, requests: t.length, firstAt: t[0] ?? 0, lastAt: t.at(-1) ?? 0 };
  };
  return { push: rates(times.push), pnp: rates(times.pnp), pnp_template: rates(times.pnp_template) };
}
