import { type SmsProvider, SmsRejectedError } from "@oa-notify/server/lib/sms/types.ts";
import { type NotifyHarness, text } from "../notify/harness.ts";

/** What one day of generated history holds, by outcome (and so by scenario, one scenario per outcome). */
export interface HistoryDay {
  /** push to a bound friend: delivered (scenario shipping) */
  push: number;
  /** PNP to a non-friend who consents: delivered (scenario payment) */
  pnp: number;
  /** PNP to a number LINE does not know: LINE 422, then the SMS at once (scenario billing) */
  smsFallback: number;
  /** PNP to a user who has not answered LINE's consent prompt, urgency `days`: held, no SMS, `undelivered` 24 h later (scenario reservation) */
  heldPnp: number;
  /** PNP to a user who refused PNP, urgency `days`: LINE 422 and no SMS allowed, `undeliverable` (scenario points) */
  refusedPnp: number;
  /** urgency `minutes`, the SMS provider refuses it: `failed` (scenario otp) */
  smsRejected: number;
  /** friends who follow the OA that day (bound members) and friends who block it */
  follows: number;
  blocks: number;
}

export const HISTORY_HOUR_UTC = 2; // 10:00 in Taipei

const rejectingSms: SmsProvider = {
  name: "log",
  send: async () => {
    throw new SmsRejectedError("provider refused: invalid number");
  },
};

/**
 * Generates history through the product's own paths on the harness's manual clock: for each day, at 10:00 Taipei,
 * the members are created (through the API; LINE users at the emulator), the notices are posted through the API,
 * the worker sends them to the emulator and the emulator's delivery webhooks come back. Day i starts `i` days after
 * `firstDay` (yyyy-mm-dd, a Taipei day). Returns the ids of the notices by day and outcome.
 */
export async function buildHistory(h: NotifyHarness, firstDay: string, days: HistoryDay[]): Promise<{ ids: Record<keyof HistoryDay, string[]>[] }> {
  const ids: Record<keyof HistoryDay, string[]>[] = [];
  const friends: string[] = [];
  for (const [i, d] of days.entries()) {
    h.t.clock.set(Date.parse(`${firstDay}T${String(HISTORY_HOUR_UTC).padStart(2, "0")}:00:00Z`) + i * 86_400_000);
    // Anything due from earlier days first (the 24-hour `undelivered` rule).
    await h.run();
    const out = { push: [], pnp: [], smsFallback: [], heldPnp: [], refusedPnp: [], smsRejected: [], follows: [], blocks: [] } as Record<
      keyof HistoryDay,
      string[]
    >;
    const post = async (key: keyof HistoryDay, memberId: string, scenario: string, urgency: string) => {
      const r = await h.post({ memberId, scenario, urgency, ...text() });
      if (r.status !== 202) throw new Error(`POST notification: ${r.status} ${JSON.stringify(r.body)}`);
      out[key].push(r.body.id);
    };
    // The one that fails goes first, alone, through a worker whose SMS provider refuses everything.
    for (let k = 0; k < d.smsRejected; k++) await post("smsRejected", (await h.member({ sim: false })).memberId, "otp", "minutes");
    if (d.smsRejected) await h.newWorker({}, rejectingSms).runUntilIdle();
    for (let k = 0; k < d.follows; k++) {
      const m = await h.member({ bind: true, follow: true });
      friends.push(m.userId!);
      out.follows.push(m.memberId);
    }
    for (let k = 0; k < d.blocks; k++) {
      const userId = friends.shift();
      if (!userId) throw new Error("no friend left to block");
      await h.emulator.unfollow(userId);
      await h.t.app.services.processor.kick();
      await h.t.app.services.processor.drain();
      out.blocks.push(userId);
    }
    for (let k = 0; k < d.push; k++) await post("push", (await h.member({ bind: true, follow: true })).memberId, "shipping", "day");
    for (let k = 0; k < d.pnp; k++) await post("pnp", (await h.member()).memberId, "payment", "day");
    for (let k = 0; k < d.smsFallback; k++) await post("smsFallback", (await h.member({ sim: false })).memberId, "billing", "day");
    for (let k = 0; k < d.heldPnp; k++) await post("heldPnp", (await h.member({ sim: { pnpConsent: "unset" } })).memberId, "reservation", "days");
    for (let k = 0; k < d.refusedPnp; k++) await post("refusedPnp", (await h.member({ sim: { pnpConsent: "no" } })).memberId, "points", "days");
    await h.run();
    await h.deliveries();
    ids.push(out);
  }
  return { ids };
}
