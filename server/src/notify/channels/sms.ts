import { SmsRejectedError, SmsRetryableError } from "../../lib/sms/types.ts";
import { type NextStep, type StoredContent, smsSegments, smsText } from "../render.ts";
import type { NotificationRow, SendContext, Sender } from "./types.ts";

/** The SMS for a notification, and how many parts it is billed as (cost = parts × PRICE_SMS_TWD, notify/cost.ts). */
export function smsFor(ctx: Pick<SendContext, "render">, row: NotificationRow, fallback: boolean): { text: string; parts: number } {
  const text = smsText(
    ctx.render,
    {
      id: row.id,
      content: row.content as StoredContent,
      nextStep: row.nextStep as NextStep | null,
      sms: row.sms as { text?: string } | null,
      createdAt: row.createdAt,
      ignoreLine: row.ignoreLine,
    },
    fallback,
  );
  return { text, parts: smsSegments(text).segments };
}

/** SMS through the configured provider, with the notification id as its reference. */
export const smsSender: Sender = {
  endpoint: () => "sms",
  repeatable: (ctx) => Boolean(ctx.sms.dedupesOnReference),
  async send(ctx, { row, fallback = false }) {
    const { text, parts } = smsFor(ctx, row, fallback);
    try {
      const res = await ctx.sms.send({ to: row.phoneE164!, text, reference: row.id });
      return {
        kind: "accepted",
        detail: { provider: ctx.sms.name, reference: res.providerReference, fallback, parts },
        reference: res.providerReference,
      };
    } catch (err) {
      const message = `SMS: ${err instanceof Error ? err.message : String(err)}`;
      if (err instanceof SmsRejectedError) return { kind: "refused", reason: message };
      if (err instanceof SmsRetryableError) return { kind: "retry", reason: message };
      return { kind: "unknown", reason: message };
    }
  },
};
