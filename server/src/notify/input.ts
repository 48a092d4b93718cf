import { createHash } from "node:crypto";
import { z } from "zod";
import { externalId } from "../lib/ids.ts";
import { checkLineMessages } from "../lib/line/messages.ts";
import { isoDateTime } from "../lib/validate.ts";

export const URGENCIES = ["minutes", "hour", "day", "days"] as const;
export type Urgency = (typeof URGENCIES)[number];

/**
 * LINE Taiwan's urgency table (docs/routing.md): how long we wait for a PNP `delivery` event before the SMS fallback.
 * `minutes` sends the SMS at once; `days` sends none unless the request asks (then after LINE's 24-hour window).
 */
export const DEFAULT_SMS_WAIT_SECONDS: Record<Urgency, number | null> = { minutes: 0, hour: 15 * 60, day: 4 * 3600, days: null };
export const PNP_WINDOW_SECONDS = 24 * 3600;
/** How far ahead `sendAt` may be. */
export const SEND_AT_MAX_DAYS = 30;

// LINE counts text length in UTF-16 code units, which is what String#length measures.
const TEXT_LIMIT = 5000;
const PNP_FORBIDDEN_TYPES = new Set(["image", "video", "audio"]);

// In the published contract, a message is LINE's own Message schema (contract/document.ts swaps it in by `x-line-schema`).
const message = z
  .looseObject({ type: z.string().min(1).max(40) })
  .meta({ "x-line-schema": "Message" })
  .superRefine((m, ctx) => {
    if (m.type === "text" || m.type === "textV2") {
      const text = (m as Record<string, unknown>)["text"];
      if (typeof text !== "string" || text.length === 0) ctx.addIssue({ code: "custom", path: ["text"], message: "a text message needs a non-empty text" });
      else if (text.length > TEXT_LIMIT)
        ctx.addIssue({ code: "custom", path: ["text"], message: `at most ${TEXT_LIMIT} characters (UTF-16 units), got ${text.length}` });
    }
    if (m.type === "flex") {
      const alt = (m as Record<string, unknown>)["altText"];
      if (typeof alt !== "string" || alt.length === 0 || alt.length > 1500)
        ctx.addIssue({ code: "custom", path: ["altText"], message: "a flex message needs altText of 1-1500 characters" });
      if (typeof (m as Record<string, unknown>)["contents"] !== "object")
        ctx.addIssue({ code: "custom", path: ["contents"], message: "a flex message needs contents" });
    }
  });

const itemKey = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_]+$/, "letters, digits and _ only");
const template = z
  .object({
    templateKey: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_]+$/, "letters, digits and _ only"),
    body: z
      .object({
        emphasizedItem: z
          .object({ itemKey, content: z.string().min(1).max(15) })
          .strict()
          .optional(),
        items: z
          .array(z.object({ itemKey, content: z.string().min(1).max(300) }).strict())
          .max(15)
          .optional(),
        buttons: z
          .array(z.object({ buttonKey: itemKey, url: z.url({ protocol: /^https?$/ }).max(1000) }).strict())
          .max(2)
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const keys = [t.body?.emphasizedItem?.itemKey, ...(t.body?.items ?? []).map((i) => i.itemKey)].filter(Boolean);
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      if (seen.has(k!))
        ctx.addIssue({
          code: "custom",
          path: ["body", "items", Math.max(0, i - (t.body?.emphasizedItem ? 1 : 0)), "itemKey"],
          message: `itemKey ${k} appears twice`,
        });
      seen.add(k!);
    });
  });

export const notificationInput = z
  .object({
    memberId: externalId.optional(),
    phone: z.string().min(1).max(40).optional(),
    scenario: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9_]+$/, "lowercase letters, digits and _ only"),
    /** Optional when the scenario has a default urgency (the scenario registry, notify/scenarios.ts). */
    urgency: z.enum(URGENCIES).optional(),
    /** Advertising: checked by no word list, but push to friends only, never PNP or SMS (docs/routing.md). */
    promotional: z.boolean().optional(),
    messages: z.array(message).min(1).max(5).optional(),
    template: template.optional(),
    text: z.string().min(1).max(TEXT_LIMIT).optional(),
    /** When the event happened (a payment, a shipment): shown in Taipei time on PNP text and the fallback SMS. */
    eventAt: isoDateTime().optional(),
    nextStep: z
      .object({ type: z.enum(["order", "bill"]), id: externalId })
      .strict()
      .optional(),
    sms: z
      .object({ text: z.string().min(1).max(1000).optional(), afterSeconds: z.number().int().min(0).max(PNP_WINDOW_SECONDS).optional() })
      .strict()
      .optional(),
    /** Scheduled send (ISO 8601 with offset, at most SEND_AT_MAX_DAYS ahead): nothing goes out before it. */
    sendAt: isoDateTime().optional(),
    /** Batch items only: the single endpoint takes the `Idempotency-Key` header instead. */
    idempotencyKey: z.string().min(1).max(255).optional(),
  })
  .strict()
  .superRefine((n, ctx) => {
    if (!n.memberId && !n.phone) ctx.addIssue({ code: "custom", path: ["memberId"], message: "a recipient is required: memberId and/or phone" });
    if (!n.messages && !n.template && !n.text) ctx.addIssue({ code: "custom", path: ["messages"], message: "content is required: messages, template or text" });
    if (n.messages && n.nextStep && n.messages.length > 4) {
      ctx.addIssue({ code: "custom", path: ["messages"], message: "at most 4 messages with nextStep (the next-step button is the 5th)" });
    }
  });

export type NotificationInput = z.infer<typeof notificationInput>;
export type FieldError = { field: string; message: string };

/**
 * Our shape first (400 `validation_failed`), then the messages against LINE's own schema and our link policy
 * (lib/line/messages.ts): well-formed JSON that LINE would refuse is a 422 `unprocessable` naming the path.
 */
export function validateItem(
  value: unknown,
  where: string,
): { ok: true; value: NotificationInput } | { ok: false; code: "validation_failed" | "unprocessable"; errors: FieldError[] } {
  const r = notificationInput.safeParse(value);
  if (!r.success)
    return { ok: false, code: "validation_failed", errors: r.error.issues.map((i) => ({ field: [where, ...i.path].join("."), message: i.message })) };
  const problems = r.data.messages ? checkLineMessages(r.data.messages, `${where}.messages`) : [];
  if (problems.length > 0) return { ok: false, code: "unprocessable", errors: problems };
  return { ok: true, value: r.data };
}

export function pnpForbiddenIndex(messages: { type: string }[] | undefined): number {
  return messages ? messages.findIndex((m) => PNP_FORBIDDEN_TYPES.has(m.type)) : -1;
}
export function isPnpAllowedMessage(m: { type: string }): boolean {
  return !PNP_FORBIDDEN_TYPES.has(m.type);
}

/** A hash of the request that ignores key order: "same body" for Idempotency-Key means the same JSON value. */
export function requestHash(v: unknown): string {
  return createHash("sha256").update(canonical(v)).digest("hex");
}
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}
