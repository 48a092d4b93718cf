import { SmsRejectedError, SmsRetryableError } from "../../lib/sms/types.ts";
import { type NextStep, type StoredContent, smsSegments, smsText } from "../render.ts";
import type { Sender } from "./types.ts";

/** SMS through the configured provider, with the notification id as its reference. */
export const smsSender: Sender = {
  endpoint: () => "sms",
  repeatable: (ctx) => Boolean(ctx.sms.dedupesOnReference),
  async send(ctx, { row, fallback = false }) {
    const text = smsText(
      ctx.render,
      {
        id: row.id,
        content: row.content as StoredContent,
        nextStep: row.nextStep as NextStep | null,
        sms: row.sms as { text?: string } | null,
        createdAt: row.createdAt,
      },
      fallback,
    );
    try {
      const res = await ctx.sms.send({ to: row.phoneE164!, text, reference: row.id });
      // `parts`: what the SMS is billed as (a long or Chinese text goes as several parts); the monthly statement sums it.
      const parts = smsSegments(text).segments;
      return { kind: "accepted", detail: { provider: ctx.sms.name, reference: res.providerReference, fallback, parts }, reference: res.providerReference };
    } catch (err) {
      const message = `SMS: ${err instanceof Error ? err.message : String(err)}`;
      if (err instanceof SmsRejectedError) return { kind: "refused", reason: message };
      if (err instanceof SmsRetryableError) return { kind: "retry", reason: message };
      return { kind: "unknown", reason: message };
    }
  },
};
