import type { NotificationInput } from "./input.ts";

/**
 * The promotion guard (docs/routing.md): LINE's notification messages may never carry advertising (the sales kit's
 * first rule: 不可傳送以營利/廣告為目的), so every text a PNP could carry is checked against a word list (PROMO_WORDS,
 * default DEFAULT_PROMO_WORDS in env.ts) at acceptance. Chinese words match anywhere; a word in Latin letters only as a
 * whole word (「sale」 is not found in 「wholesale」), case-insensitively.
 */
export function promoMatcher(words: readonly string[]): (texts: string[]) => string[] {
  const rules = words.map((w) => ({
    word: w,
    re: /^[\x20-\x7e]+$/.test(w) ? new RegExp(`(?<![a-z0-9])${escapeRe(w)}(?![a-z0-9])`, "i") : null,
  }));
  return (texts) => {
    const hay = texts.join("\n").toLowerCase();
    return rules.filter((r) => (r.re ? r.re.test(hay) : hay.includes(r.word))).map((r) => r.word);
  };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Every string a notice's content can show: text, messages (texts, alt texts, the strings inside a Flex), template items, the SMS text. */
export function contentTexts(v: Pick<NotificationInput, "text" | "messages" | "template" | "sms">): string[] {
  const out: string[] = [];
  if (v.text) out.push(v.text);
  if (v.sms?.text) out.push(v.sms.text);
  const walk = (x: unknown, depth: number) => {
    if (depth > 40) return;
    if (typeof x === "string") out.push(x);
    else if (Array.isArray(x)) for (const y of x) walk(y, depth + 1);
    else if (x && typeof x === "object") {
      for (const [k, y] of Object.entries(x)) if (k !== "type" && k !== "uri" && k !== "url") walk(y, depth + 1);
    }
  };
  walk(v.messages, 0);
  if (v.template) {
    const b = v.template.body;
    if (b?.emphasizedItem) out.push(b.emphasizedItem.content);
    for (const i of b?.items ?? []) out.push(i.content);
  }
  return out;
}
