import type { Endpoint } from "./http.ts";
import type { Faults } from "./types.ts";

/**
 * Fault injection (the console's switches, `PUT /sandbox/api/faults`, `setFaults` in tests): the failures a LINE
 * client must survive, on the wire as LINE shows them (https://developers.line.biz/en/reference/messaging-api/,
 * "Status codes" and "Rate limits"): 429 with Retry-After, 429 "monthly limit" (push), 500, added latency, a dropped
 * connection, and a connection dropped after the request was accepted (the ambiguous timeout: it *was* delivered).
 */

/** What a request meets before its handler runs: a wire drop, a drop after acceptance, or an error answer. */
export type WireFault =
  | { kind: "drop" }
  | { kind: "drop_after_accept" }
  | { kind: "answer"; status: number; body: Record<string, unknown>; headers?: Record<string, string> };

const DROP: WireFault = { kind: "drop" };
const DROP_AFTER_ACCEPT: WireFault = { kind: "drop_after_accept" };
const SENDS = new Set<Endpoint>(["push", "multicast", "pnp", "pnp_template"]);

/** A fault aimed at "push" also hits multicast (both are pushes); "*" hits every endpoint. */
const hits = (target: string, ep: Endpoint) => target === "*" || target === ep || (target === "push" && ep === "multicast");

/** Consumes one unit of a counted fault aimed at this endpoint. */
function take(f: { endpoint?: string; count: number } | undefined, ep: Endpoint): boolean {
  if (!f || f.count <= 0 || !hits(f.endpoint ?? "*", ep)) return false;
  f.count--;
  return true;
}

export class FaultInjector {
  /** the switches now; counted faults are used up in place */
  active: Faults = {};

  set(f: Faults) {
    this.active = structuredClone(f);
  }
  clear() {
    this.active = {};
  }
  snapshot(): Faults {
    return structuredClone(this.active);
  }

  /** The monthly-quota switch (aimed at push unless said otherwise): sends get 429, the quota API says "limited". */
  quotaReached(ep: Endpoint): boolean {
    const q = this.active.monthlyQuota;
    return !!q?.on && hits(q.endpoint ?? "push", ep);
  }

  /** Decides, in the order a client would meet them on the wire, which fault (if any) this request gets. */
  onRequest(ep: Endpoint): WireFault | undefined {
    const f = this.active;
    const drop = f.dropConnection;
    if (take(drop, ep)) return drop!.afterAccept ? DROP_AFTER_ACCEPT : DROP;
    const rl = f.rateLimit;
    if (take(rl, ep))
      return { kind: "answer", status: 429, body: { message: "Too Many Requests" }, headers: { "retry-after": String(rl!.retryAfterSeconds ?? 1) } };
    if (take(f.serverError, ep)) return { kind: "answer", status: 500, body: { message: "Internal Server Error" } };
    if (SENDS.has(ep) && this.quotaReached(ep)) return { kind: "answer", status: 429, body: { message: "You have reached your monthly limit." } };
    return undefined;
  }
}
