import type { messagingApi } from "@line/bot-sdk";
import type { PnpTemplate } from "../lib/line/calls.ts";
import { signViewToken } from "../lib/view-token.ts";
import { isPnpAllowedMessage } from "./input.ts";
import { shortLink } from "./short-link.ts";

export interface StoredContent {
  messages?: Record<string, unknown>[];
  template?: PnpTemplate;
  text?: string;
  /** When the event the notice is about happened (the request's `eventAt`); the notice's own time when absent. */
  eventAt?: string;
}
export interface NextStep {
  type: "order" | "bill";
  id: string;
}
export interface RenderConfig {
  appSecret: string;
  liffId: string;
  publicBaseUrl: string;
  /** Longest SMS in billed parts (SMS_MAX_PARTS); a longer text is shortened, its short link kept. Default 3. */
  smsMaxParts?: number;
}

/** The ignore line when a notification has none stored (rows accepted before the scenario registry). */
export const DEFAULT_IGNORE_LINE = "若您已完成，請忽略此訊息";

/**
 * What makes a late message explain itself (LINE Taiwan's 通知型訊息內容優化, docs/routing.md): the time of the event
 * in Asia/Taipei, and the scenario's 「若您已完成…，請忽略此訊息」 line. The PNP text and the fallback SMS both use it.
 */
export function explainers(n: { content: StoredContent; createdAt: Date; ignoreLine: string | null }): { time: string; ignore: string } {
  const at = n.content.eventAt ? new Date(n.content.eventAt) : n.createdAt;
  return { time: taipeiTime(Number.isNaN(at.getTime()) ? n.createdAt : at), ignore: n.ignoreLine || DEFAULT_IGNORE_LINE };
}

/** The LIFF next-step page for this notification, with a view token so a not-yet-bound PNP recipient can open it. */
export async function nextStepUrl(cfg: RenderConfig, notificationId: string, step: NextStep, now: Date): Promise<string> {
  const token = await signViewToken(cfg.appSecret, { nid: notificationId, type: step.type, id: step.id }, now);
  return `https://liff.line.me/${cfg.liffId}/${step.type === "order" ? "orders" : "bills"}/${encodeURIComponent(step.id)}?t=${token}`;
}

function templateAsText(t: PnpTemplate): string {
  const lines = [t.body?.emphasizedItem?.content, ...(t.body?.items ?? []).map((i) => i.content)].filter((s): s is string => Boolean(s));
  return lines.join("\n") || t.templateKey;
}

/** The notice as plain text: the request's `text`, else the text messages, else the template's items. */
export function plainText(c: StoredContent): string {
  if (c.text) return c.text;
  const texts = (c.messages ?? []).flatMap((m) =>
    typeof m["text"] === "string" ? [m["text"] as string] : typeof m["altText"] === "string" ? [m["altText"] as string] : [],
  );
  if (texts.length) return texts.join("\n");
  if (c.template) return templateAsText(c.template);
  return "";
}

function buttonBubble(url: string, text: string | null): messagingApi.FlexMessage {
  const label = "查看詳情 View details";
  return {
    type: "flex",
    altText: text ? text.slice(0, 300) : label,
    contents: {
      type: "bubble",
      ...(text ? { body: { type: "box", layout: "vertical", contents: [{ type: "text", text: text.slice(0, 2000), wrap: true }] } } : {}),
      footer: {
        type: "box",
        layout: "vertical",
        contents: [{ type: "button", style: "primary", action: { type: "uri", label: "查看詳情", uri: url } }],
      },
    },
  } as messagingApi.FlexMessage;
}

/**
 * LINE messages for push or flexible PNP. A next-step link becomes a Flex bubble with a button: with plain text the
 * text goes in the bubble's body (one message), with given messages the bubble is appended (validation keeps ≤ 5).
 * For PNP the forbidden types (image, video, audio) are dropped, and what the product writes itself (the text, the
 * bubble) ends with the event's Taipei time and the scenario's ignore line; caller-supplied messages are left as given.
 */
export async function lineMessages(
  cfg: RenderConfig,
  n: { id: string; content: StoredContent; nextStep: NextStep | null; createdAt: Date; ignoreLine: string | null },
  now: Date,
  forPnp: boolean,
): Promise<messagingApi.Message[]> {
  const url = n.nextStep ? await nextStepUrl(cfg, n.id, n.nextStep, now) : null;
  const ex = explainers(n);
  const footer = forPnp ? `${ex.time}（台北時間 Taipei time）\n${ex.ignore}` : null;
  let msgs: messagingApi.Message[];
  if (n.content.messages?.length) {
    msgs = n.content.messages.filter((m) => !forPnp || isPnpAllowedMessage(m as { type: string })) as unknown as messagingApi.Message[];
    if (url) msgs = [...msgs.slice(0, 4), buttonBubble(url, footer)];
  } else {
    const body = plainText(n.content);
    const text = footer ? `${body}\n\n${footer}` : body;
    msgs = url ? [buttonBubble(url, text)] : [{ type: "text", text }];
  }
  if (msgs.length === 0) msgs = [{ type: "text", text: plainText(n.content) || "通知 Notification" }];
  return msgs;
}

const taipei = new Intl.DateTimeFormat("zh-TW", {
  timeZone: "Asia/Taipei",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

/** 2026/11/26 10:00, Taiwan time. */
export function taipeiTime(d: Date): string {
  const p = Object.fromEntries(taipei.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p["year"]}/${p["month"]}/${p["day"]} ${p["hour"] === "24" ? "00" : p["hour"]}:${p["minute"]}`;
}

/**
 * The SMS, kept short: a Chinese SMS is UCS-2, 70 characters in one part and 67 per part once split, and each part
 * is charged. The next-step link is the short `/n/<code>` link (short-link.ts), never the LIFF URL with its token. A
 * fallback SMS also states when the notice was issued (Asia/Taipei) and tells the user to ignore it if they already
 * acted (LINE Taiwan's advice against confusion when the LINE message arrives late, docs/routing.md).
 */
export function smsText(
  cfg: Pick<RenderConfig, "publicBaseUrl" | "smsMaxParts">,
  n: { id: string; content: StoredContent; nextStep: NextStep | null; sms: { text?: string } | null; createdAt: Date; ignoreLine?: string | null },
  fallback: boolean,
): string {
  const ex = explainers({ ...n, ignoreLine: n.ignoreLine ?? null });
  const compose = (body: string) => {
    const parts = [fallback ? `${ex.time} ${body}` : body];
    if (n.nextStep) parts.push(shortLink(cfg.publicBaseUrl, n.id));
    if (fallback) parts.push(ex.ignore);
    return parts.join("\n");
  };
  const body = n.sms?.text ?? plainText(n.content);
  const max = cfg.smsMaxParts ?? 3;
  const full = compose(body);
  if (smsSegments(full).segments <= max) return full;
  // Over the cap (SMS_MAX_PARTS): shorten the body only — the time, the short link and the ignore line stay whole.
  const chars = [...body];
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (smsSegments(compose(`${chars.slice(0, mid).join("")}…`)).segments <= max) lo = mid;
    else hi = mid - 1;
  }
  return compose(`${chars.slice(0, lo).join("")}…`);
}

/**
 * How many parts an SMS is billed as: GSM-7 (160, or 153 per part when split; the extension characters take two)
 * when every character is in the GSM 03.38 alphabet, else UCS-2 (70, or 67 per part), counted in UTF-16 units.
 */
export function smsSegments(text: string): { encoding: "gsm7" | "ucs2"; units: number; segments: number } {
  let units = 0;
  let gsm = true;
  for (const ch of text) {
    if (GSM_BASIC.includes(ch)) units += 1;
    else if (GSM_EXTENDED.includes(ch)) units += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) return { encoding: "gsm7", units, segments: units <= 160 ? 1 : Math.ceil(units / 153) };
  return { encoding: "ucs2", units: text.length, segments: text.length <= 70 ? 1 : Math.ceil(text.length / 67) };
}
const GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";
