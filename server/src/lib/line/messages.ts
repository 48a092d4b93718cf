import validateMessage from "./generated/validate-message.mjs";
import { toLineDetails as lineDetails } from "./spec-schemas.ts";

/**
 * The acceptance check of LINE message objects (`messages` of a notification): what LINE's own OpenAPI document says
 * a message must be (compiled ahead of time by server/scripts/line-messages.ts, the same discriminator handling as the
 * sandbox's emulator), plus the link schemes we let through. A message LINE would refuse is a 422 at acceptance
 * rather than a failed send that falls back to a paid SMS (docs/api.md).
 */

/** Schemes a URI action may open: web pages, LINE's own scheme, and a phone call. Never `javascript:`, `data:`… */
const URI_SCHEMES = /^(?:https?:\/\/|line:|tel:)/i;

export interface MessageProblem {
  /** JSON path from the message: `messages.0.contents.body.contents.1.action.uri` */
  field: string;
  message: string;
}

/** `messages[0].contents.body` (LINE's wording) → `messages.0.contents.body` (ours, as zod names fields). */
const dotted = (p: string) => p.replace(/\[(\d+)\]/g, ".$1");

/** Every `uri` / `linkUri` / `altUri.desktop` of a URI action in the tree, with its path. */
function badUris(v: unknown, path: string[], out: MessageProblem[], where: string) {
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) badUris(x, [...path, String(i)], out, where);
    return;
  }
  if (!v || typeof v !== "object") return;
  const o = v as Record<string, unknown>;
  if (o["type"] === "uri") {
    const links: [string[], unknown][] = [
      [["uri"], o["uri"]],
      [["linkUri"], o["linkUri"]],
      [["altUri", "desktop"], (o["altUri"] as Record<string, unknown> | undefined)?.["desktop"]],
    ];
    for (const [key, value] of links)
      if (typeof value === "string" && !URI_SCHEMES.test(value.trim()))
        out.push({ field: [where, ...path, ...key].join("."), message: "a URI action may open only http(s)://, line: or tel: links" });
  }
  for (const [k, x] of Object.entries(o)) if (x && typeof x === "object") badUris(x, [...path, k], out, where);
}

/** The problems LINE (or our link policy) would find in these messages; empty when they may be sent. */
export function checkLineMessages(messages: readonly unknown[], where: string): MessageProblem[] {
  const out: MessageProblem[] = [];
  messages.forEach((m, i) => {
    if (!validateMessage(m)) {
      for (const d of lineDetails(validateMessage.errors))
        out.push({ field: [where, String(i), ...(d.property ? [dotted(d.property)] : [])].join("."), message: d.message });
    }
    badUris(m, [String(i)], out, where);
  });
  return out;
}
