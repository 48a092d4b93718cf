import type { InboxItem } from "./emulator.ts";

/** What the console shows of one inbox item: plain parts the page renders without interpreting LINE JSON. */
export type RenderedPart =
  | { type: "text"; text: string }
  | { type: "alt"; text: string }
  | { type: "item"; key: string; value: string; emphasized?: boolean }
  | { type: "link"; label: string; href: string; original: string }
  /** a URI the console must not make clickable (see linkable): shown as text */
  | { type: "uri_text"; label: string; uri: string }
  | { type: "note"; text: string };
export interface RenderedItem {
  kind: InboxItem["kind"];
  at: string;
  requestId: string;
  delivered: boolean;
  status: string;
  deliveredAt?: string;
  deliveryTag?: string;
  parts: RenderedPart[];
}

/**
 * A next-step link points at the LIFF app inside LINE (`https://liff.line.me/{LIFF_ID}/orders/…`). In the sandbox
 * there is no LINE app, so the console opens our own `/liff/…` as that simulated user instead.
 */
export function rewriteLiffUrl(url: string, liffId: string, sandboxUser?: string): string {
  const prefix = `https://liff.line.me/${liffId}`;
  if (!url.startsWith(prefix)) return url;
  const rest = url.slice(prefix.length);
  if (rest !== "" && !/^[/?#]/.test(rest)) return url;
  const u = new URL(`http://x/liff${rest.startsWith("/") ? rest : `/${rest}`}`);
  if (sandboxUser) u.searchParams.set("sandboxUser", sandboxUser);
  return `${u.pathname}${u.search}${u.hash}`;
}

const URL_IN_TEXT = /https?:\/\/[^\s"'<>）)]+/g;

const LINK_SCHEMES = new Set(["http:", "https:", "line:", "tel:"]);
/**
 * Whether the console may render a message's URI as a link: http(s), `line:` (LINE's own URL schemes) and `tel:`
 * only. A message can carry any URI (a `javascript:` or `data:` one would run in the console's origin when clicked),
 * so everything else is shown as text. Paths on this server (the rewritten /liff/… links) resolve to http.
 */
export function linkable(uri: string): boolean {
  try {
    return LINK_SCHEMES.has(new URL(uri, "http://sandbox.invalid/").protocol);
  } catch {
    return false;
  }
}

function walkFlex(node: any, out: RenderedPart[], link: (label: string, url: string) => void) {
  if (!node || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const n of node) walkFlex(n, out, link);
    return;
  }
  if (node.type === "text" && typeof node.text === "string") out.push({ type: "text", text: node.text });
  if (node.type === "button" && node.action) {
    if (typeof node.action.uri === "string") link(node.action.label ?? node.action.uri, node.action.uri);
    return;
  }
  if (node.action?.type === "uri" && typeof node.action.uri === "string") link(node.action.label ?? node.action.uri, node.action.uri);
  for (const key of ["header", "hero", "body", "footer", "contents"]) if (key in node) walkFlex(node[key], out, link);
}

export function renderInboxItem(item: InboxItem, liffId: string, userId?: string): RenderedItem {
  const parts: RenderedPart[] = [];
  const link = (label: string, url: string) => {
    const href = rewriteLiffUrl(url, liffId, userId);
    parts.push(linkable(href) ? { type: "link", label, href, original: url } : { type: "uri_text", label, uri: url });
  };
  const textWithLinks = (text: string) => {
    parts.push({ type: "text", text });
    for (const m of text.match(URL_IN_TEXT) ?? []) link(m, m);
  };
  for (const m of (item.messages ?? []) as any[]) {
    switch (m?.type) {
      case "text":
      case "textV2":
        textWithLinks(String(m.text ?? ""));
        break;
      case "flex":
        parts.push({ type: "alt", text: String(m.altText ?? "") });
        walkFlex(m.contents, parts, link);
        break;
      case "template":
        parts.push({ type: "alt", text: String(m.altText ?? "") });
        if (m.template?.title) parts.push({ type: "text", text: String(m.template.title) });
        if (m.template?.text) parts.push({ type: "text", text: String(m.template.text) });
        for (const a of m.template?.actions ?? []) if (typeof a?.uri === "string") link(a.label ?? a.uri, a.uri);
        break;
      case "sticker":
        parts.push({ type: "note", text: `[貼圖 sticker ${m.packageId}/${m.stickerId}]` });
        break;
      default:
        parts.push({ type: "note", text: `[${String(m?.type)}]` });
    }
  }
  if (item.template) {
    const t = item.template as {
      templateKey?: string;
      body?: {
        emphasizedItem?: { itemKey: string; content: string };
        items?: { itemKey: string; content: string }[];
        buttons?: { buttonKey: string; url: string }[];
      };
    };
    parts.push({ type: "note", text: `範本 template: ${t.templateKey ?? "?"}` });
    const b = t.body ?? {};
    if (b.emphasizedItem) parts.push({ type: "item", key: b.emphasizedItem.itemKey, value: b.emphasizedItem.content, emphasized: true });
    for (const it of b.items ?? []) parts.push({ type: "item", key: it.itemKey, value: it.content });
    for (const bt of b.buttons ?? []) link(bt.buttonKey, bt.url);
  }
  return {
    kind: item.kind,
    at: item.at,
    requestId: item.requestId,
    delivered: item.delivered,
    status: item.status ?? (item.delivered ? "delivered" : "pending"),
    ...(item.deliveredAt ? { deliveredAt: item.deliveredAt } : {}),
    ...(item.deliveryTag ? { deliveryTag: item.deliveryTag } : {}),
    parts,
  };
}

/**
 * The SMS short link (`<PUBLIC_BASE_URL>/n/<code>`, notify/short-link.ts) → the same path on this server, naming the
 * simulated user: in sandbox mode the redirect carries `sandboxUser` on to the LIFF page.
 */
function rewriteShortLink(url: string, sandboxUser?: string): string | null {
  const m = /^https?:\/\/[^/]+(\/n\/[A-Za-z0-9_-]{22})$/.exec(url);
  if (!m) return null;
  return sandboxUser ? `${m[1]}?sandboxUser=${encodeURIComponent(sandboxUser)}` : m[1]!;
}

/** SMS bodies carry the same next-step links; rewrite them too when the number belongs to a simulated user. */
export function renderSmsText(text: string, liffId: string, userId?: string): { text: string; links: { href: string; original: string }[] } {
  const links = (text.match(URL_IN_TEXT) ?? []).map((m) => ({ href: rewriteShortLink(m, userId) ?? rewriteLiffUrl(m, liffId, userId), original: m }));
  return { text, links };
}
