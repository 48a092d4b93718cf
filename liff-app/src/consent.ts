import type { Text } from "./i18n.ts";

/**
 * The consent notice, in plain words. The server accepts only versions it knows (server/src/liff/consent.ts) and
 * records the version in the consent ledger: change the text → new version here AND there.
 */
export const CONSENT_VERSION = "2026-11-26.v1";

export const consentNotice: { title: Text; sections: { heading: Text; body: Text }[]; agree: Text } = {
  title: { "zh-TW": "綁定前請先閱讀", en: "Before you link your account" },
  sections: [
    {
      heading: { "zh-TW": "誰會使用你的資料", en: "Who uses your data" },
      body: {
        "zh-TW": "本 LINE 官方帳號的經營者（以下稱「我們」）。我們不會把資料提供給其他公司做行銷。",
        en: 'The business that runs this LINE Official Account ("we"). We do not give your data to other companies for marketing.',
      },
    },
    {
      heading: { "zh-TW": "我們會保存什麼", en: "What we keep" },
      body: {
        "zh-TW": "你的 LINE 使用者識別碼（不是你的 LINE ID，也看不到你的好友或聊天內容）、它對應的會員編號與手機號碼，以及你同意或撤回的時間與方式。",
        en: "Your LINE user identifier (not your LINE ID; we cannot see your friends or chats), the member number and phone number it is linked to, and when and how you agreed or withdrew.",
      },
    },
    {
      heading: { "zh-TW": "為什麼", en: "Why" },
      body: {
        "zh-TW": "用 LINE 傳送你的交易通知，例如帳單、出貨與預約提醒，取代或減少簡訊。不會用於廣告。",
        en: "To send your transaction notices by LINE, such as bills, deliveries and booking reminders, instead of (or before) SMS. Never for advertising.",
      },
    },
    {
      heading: { "zh-TW": "如何撤回", en: "How to withdraw" },
      body: {
        "zh-TW": "隨時在「設定」頁按「解除綁定」，立即生效，之後改用簡訊等方式通知你。為了說明過去寄出的通知，同意與撤回的紀錄會保留。",
        en: 'Any time, tap "Unlink" on the Settings page. It takes effect at once; after that we notify you by SMS or other means. Records of consent and withdrawal are kept to explain past notices.',
      },
    },
  ],
  agree: { "zh-TW": "我已閱讀並同意以上說明", en: "I have read and agree to the above" },
};
