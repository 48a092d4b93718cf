export type Lang = "zh-TW" | "en";

/** zh-TW first: English only when the phone's language is not Chinese, or when the person picks it. */
export function initialLang(stored: string | null, navigatorLanguage: string | undefined): Lang {
  if (stored === "zh-TW" || stored === "en") return stored;
  return navigatorLanguage && !navigatorLanguage.toLowerCase().startsWith("zh") ? "en" : "zh-TW";
}

/** A string in both languages; pages keep their own tables so each chunk carries only its words. */
export type Text = { "zh-TW": string; en: string };
export const tr = (lang: Lang, t: Text): string => t[lang];

export const common = {
  appTitle: { "zh-TW": "通知服務", en: "Notifications" },
  switchLang: { "zh-TW": "English", en: "中文" },
  switchLangLabel: { "zh-TW": "Switch to English", en: "切換為中文" },
  loading: { "zh-TW": "載入中…", en: "Loading…" },
  retry: { "zh-TW": "重試", en: "Try again" },
  sandbox: { "zh-TW": "沙盒模式", en: "Sandbox" },
  notFoundTitle: { "zh-TW": "找不到這個頁面", en: "Page not found" },
  notFoundBody: { "zh-TW": "請從通知中的按鈕重新開啟。", en: "Please open it again from the button in your notification." },
  sessionExpired: { "zh-TW": "登入已逾時，請關閉後從 LINE 重新開啟。", en: "Your session has expired. Close this page and open it again from LINE." },
  genericError: { "zh-TW": "發生錯誤，請稍後再試。", en: "Something went wrong. Please try again later." },
  settings: { "zh-TW": "設定與綁定", en: "Settings" },
  addFriendTitle: { "zh-TW": "加入好友，通知直接送到 LINE", en: "Add us as a friend to get notices in LINE" },
  addFriendBody: {
    "zh-TW": "加入官方帳號好友後，之後的帳單與出貨通知會直接傳到你的 LINE 聊天室。",
    en: "Once you add our official account, bills and delivery notices arrive straight in your LINE chat.",
  },
  addFriendButton: { "zh-TW": "加入好友", en: "Add friend" },
  bindOfferTitle: { "zh-TW": "綁定會員，隨時查看自己的通知", en: "Link your membership to see your notices anytime" },
  bindOfferBody: {
    "zh-TW": "你是透過通知連結開啟這個頁面。綁定後，不用連結也能查看自己的帳單與訂單。",
    en: "You opened this page from a notice link. Link your membership to see your bills and orders without a link.",
  },
  bindOfferButton: { "zh-TW": "前往綁定", en: "Link membership" },
} satisfies Record<string, Text>;

/** Amounts as NT$ whatever the locale prints for TWD ("$" in zh-TW), without cents when there are none. */
export function formatTwd(amount: number, lang: Lang): string {
  const whole = Number.isInteger(amount);
  const nf = new Intl.NumberFormat(lang === "en" ? "en-US" : "zh-TW", {
    style: "currency",
    currency: "TWD",
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: 2,
  });
  return nf
    .formatToParts(amount)
    .map((p) => (p.type === "currency" ? "NT$" : p.value))
    .join("");
}

/** Dates are shown in Taiwan time wherever the phone is. */
export function formatDateTime(iso: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang === "en" ? "en-US" : "zh-TW", { timeZone: "Asia/Taipei", dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}
export function formatDate(iso: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang === "en" ? "en-US" : "zh-TW", {
    timeZone: "Asia/Taipei",
    year: "numeric",
    month: "long",
    day: "numeric",
    weekday: "short",
  }).format(new Date(iso));
}
