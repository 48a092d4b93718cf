import type { RouteChannel } from "@oa-notify/db";
import { DEFAULT_SMS_WAIT_SECONDS, PNP_WINDOW_SECONDS, type Urgency } from "./input.ts";
import { taipeiTime } from "./render.ts";

type Channel = RouteChannel;

export interface RouteInputs {
  urgency: Urgency;
  scenario: string;
  scenarioApproved: boolean;
  memberId: string | null;
  memberFound: boolean;
  lineUserId: string | null;
  friend: boolean;
  phoneKnown: boolean;
  smsRequested: boolean;
  smsAfterSeconds: number | null;
  content: "messages" | "template" | "text";
  hasTemplate: boolean;
  /** The request said `promotional: true`: push to a friend only (docs/routing.md, "Promotion guard"). */
  promotional?: boolean;
  /** When the member withdrew LINE consent (their latest consent decision, members/consent.ts); null: not withdrawn. */
  lineConsentWithdrawnAt?: string | null;
  /** The member's bound LINE user's latest follow/unfollow event is an unfollow (blocked the OA): PNP never reaches them. */
  blocked?: boolean;
}

/** The route decision stored on the notification (docs/routing.md): the inputs and the rule that fired. */
export interface RouteDecision {
  channel: Channel;
  pnpKind?: "flexible" | "template";
  /** Seconds after the decision at which an undelivered LINE notice falls back to SMS; null = never. */
  smsAfterSeconds: number | null;
  rule: string;
  reason?: string;
  inputs: RouteInputs;
  decidedAt: string;
  stage: "accepted" | "dispatch" | "reroute";
  reroutedFrom?: Channel;
  /** `minutes` to a friend: the SMS goes at once and a push (free) goes alongside it. */
  parallelPush?: boolean;
}

export function smsWaitSeconds(i: Pick<RouteInputs, "urgency" | "smsRequested" | "smsAfterSeconds" | "phoneKnown">): number | null {
  if (!i.phoneKnown) return null;
  if (i.smsAfterSeconds !== null) return i.smsAfterSeconds;
  const def = DEFAULT_SMS_WAIT_SECONDS[i.urgency];
  if (def !== null) return def;
  // `days`: no SMS unless asked; when asked, after LINE's 24-hour window, when silence means "not delivered".
  return i.smsRequested ? PNP_WINDOW_SECONDS : null;
}

/**
 * docs/routing.md, in order. `exclude` removes channels that already failed for this notification (push quota).
 */
export function decideRoute(inputs: RouteInputs, at: Date, stage: RouteDecision["stage"], exclude: Channel[] = []): RouteDecision {
  const wait = smsWaitSeconds(inputs);
  const base = { inputs, decidedAt: at.toISOString(), stage };
  const pnpKind = inputs.hasTemplate ? "template" : "flexible";
  const withdrawn = inputs.lineConsentWithdrawnAt ?? null;
  const friendNow = inputs.friend && Boolean(inputs.lineUserId) && !withdrawn && !exclude.includes("push");
  const none = (rule: string, reason: string): RouteDecision => ({ ...base, channel: "none", smsAfterSeconds: null, rule, reason });
  if (inputs.promotional) {
    if (friendNow) return { ...base, channel: "push", smsAfterSeconds: null, rule: "promotional: push only (a friend now: Messaging API push)" };
    return none(
      "promotional: push only",
      withdrawn
        ? "promotional content goes by push to friends only, and the member withdrew LINE consent"
        : "promotional content goes by push to friends only, and the recipient is not a friend now",
    );
  }
  if (withdrawn) {
    const rule = `member withdrew LINE consent on ${taipeiTime(new Date(withdrawn))}`;
    if (wait !== null) return { ...base, channel: "sms", smsAfterSeconds: 0, rule: `${rule}: SMS` };
    return none(`${rule}: no LINE message`, `no LINE message after a withdrawal, and SMS is not allowed for urgency ${inputs.urgency} (give sms to allow it)`);
  }
  if (inputs.urgency === "minutes" && inputs.phoneKnown) {
    if (friendNow) {
      return {
        ...base,
        channel: "sms",
        smsAfterSeconds: 0,
        parallelPush: true,
        rule: "urgency minutes: SMS at once, with a push in parallel (a friend: free, instant)",
      };
    }
    return { ...base, channel: "sms", smsAfterSeconds: 0, rule: "urgency minutes: SMS at once (a silent PNP failure is known only after 24 h)" };
  }
  if (friendNow) {
    return { ...base, channel: "push", smsAfterSeconds: wait, rule: "member bound to a LINE user who is a friend now: Messaging API push" };
  }
  if (inputs.blocked && inputs.lineUserId) {
    const rule = "LINE user blocked the OA (unfollowed)";
    if (wait !== null) return { ...base, channel: "sms", smsAfterSeconds: 0, rule: `${rule}: SMS` };
    return none(
      `${rule}: no PNP`,
      `LINE never delivers a notification message to a user who blocked the OA, and SMS is not allowed for urgency ${inputs.urgency}`,
    );
  }
  if (inputs.phoneKnown && inputs.scenarioApproved && !exclude.includes("pnp")) {
    return {
      ...base,
      channel: "pnp",
      pnpKind,
      smsAfterSeconds: wait,
      rule:
        wait === null
          ? `not a friend, phone known, approved scenario: PNP (${pnpKind}); no SMS fallback (urgency ${inputs.urgency}); undelivered after 24 h`
          : `not a friend, phone known, approved scenario: PNP (${pnpKind}); SMS fallback after ${wait} s without a delivery event`,
    };
  }
  if (wait !== null) {
    if (inputs.phoneKnown && !inputs.scenarioApproved) return { ...base, channel: "sms", smsAfterSeconds: 0, rule: "scenario not approved for PNP: SMS" };
    return { ...base, channel: "sms", smsAfterSeconds: 0, rule: `no LINE route (${inputs.phoneKnown ? "LINE unavailable" : "not a friend"}): SMS` };
  }
  const reason = !inputs.phoneKnown
    ? "not a LINE friend and no phone number known"
    : !inputs.scenarioApproved
      ? `scenario ${inputs.scenario} is not approved for PNP, the member is not a friend, and SMS is not allowed for urgency ${inputs.urgency}`
      : `no LINE route left and SMS is not allowed for urgency ${inputs.urgency} (give sms to allow it)`;
  return none(!inputs.phoneKnown || inputs.scenarioApproved ? "no route: undeliverable" : "scenario not approved for PNP: undeliverable", reason);
}

/** Whether this notification may fall back to SMS at all (phone known and the urgency/request allows it). */
export function smsAllowed(inputs: RouteInputs): boolean {
  return smsWaitSeconds(inputs) !== null;
}
