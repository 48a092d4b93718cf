import { z } from "zod";
import type { LineErrorDetail } from "./openapi.ts";

/**
 * Template PNP (`POST /v2/bot/message/pnp/templated/push`) is not in LINE's OpenAPI document (./openapi/), so its
 * documented body rules (https://developers.line.biz/en/reference/line-notification-messages/) live here. Country key lists are not public, so any well-formed key is accepted.
 */
const key = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, "Invalid key");
export const templatePnpSchema = z.object({
  to: z.string().regex(/^[0-9a-f]{64}$/, "The value must be a valid SHA-256 digest."),
  templateKey: key,
  body: z
    .object({
      emphasizedItem: z.object({ itemKey: key, content: z.string().min(1).max(15) }).optional(),
      items: z
        .array(z.object({ itemKey: key, content: z.string().min(1).max(300) }))
        .max(15)
        .optional(),
      buttons: z
        .array(z.object({ buttonKey: key, url: z.url().max(1000) }))
        .max(2)
        .optional(),
    })
    .optional(),
});
export type TemplatePnpBody = z.infer<typeof templatePnpSchema>;

const propertyOf = (path: PropertyKey[]) =>
  path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)), "");

export function validateTemplatePnp(input: unknown): { ok: true; value: TemplatePnpBody } | { ok: false; details: LineErrorDetail[] } {
  const r = templatePnpSchema.safeParse(input);
  if (!r.success) {
    return { ok: false, details: r.error.issues.map((i) => ({ message: i.message, property: propertyOf(i.path) })) };
  }
  // The same itemKey may not appear twice, including between emphasizedItem and items.
  const seen = new Set<string>();
  const details: LineErrorDetail[] = [];
  const b = r.data.body;
  if (b?.emphasizedItem) seen.add(b.emphasizedItem.itemKey);
  b?.items?.forEach((it, i) => {
    if (seen.has(it.itemKey)) details.push({ message: `Duplicate itemKey: ${it.itemKey}`, property: `body.items[${i}].itemKey` });
    seen.add(it.itemKey);
  });
  const buttons = new Set<string>();
  b?.buttons?.forEach((bt, i) => {
    if (buttons.has(bt.buttonKey)) details.push({ message: `Duplicate buttonKey: ${bt.buttonKey}`, property: `body.buttons[${i}].buttonKey` });
    buttons.add(bt.buttonKey);
  });
  return details.length ? { ok: false, details } : { ok: true, value: r.data };
}
