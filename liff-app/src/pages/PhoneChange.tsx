import { type FormEvent, useId, useState } from "react";
import { ApiError } from "../api.ts";
import { useApp } from "../context.tsx";
import { common, type Text, tr } from "../i18n.ts";
import { OtpCodeForm } from "./OtpCodeForm.tsx";

const t = {
  title: { "zh-TW": "更換手機號碼", en: "Change mobile number" },
  intro: {
    "zh-TW": "換了手機號碼嗎？請輸入新號碼，我們會傳送驗證碼到新號碼，驗證後簡訊通知就會寄到新號碼。",
    en: "New number? Enter it and we send a code to it; once verified, SMS notices go to the new number.",
  },
  phone: { "zh-TW": "新的手機號碼", en: "New mobile number" },
  sendCode: { "zh-TW": "傳送驗證碼", en: "Send code" },
  resend: { "zh-TW": "重新傳送", en: "Send again" },
  codeSent: { "zh-TW": "驗證碼已傳送到新號碼，5 分鐘內有效。", en: "We sent a code to the new number; it is valid for 5 minutes." },
  code: { "zh-TW": "6 位數驗證碼", en: "6-digit code" },
  confirm: { "zh-TW": "確認更換", en: "Change number" },
  changed: { "zh-TW": "手機號碼已更新。", en: "Your mobile number is updated." },
  wrongCode: { "zh-TW": "驗證碼錯誤或已過期，請重新取得。", en: "The code is wrong or has expired; please get a new one." },
  badPhone: { "zh-TW": "請輸入台灣手機號碼，例如 0912345678。", en: "Enter a Taiwan mobile number, e.g. 0912345678." },
} satisfies Record<string, Text>;

/** Settings: a bound member proves a new phone number with a code sent to it (POST /liff-api/phone/otp, /phone). */
export default function PhoneChange({ onChanged }: { onChanged: () => void }) {
  const { api, lang } = useApp();
  const ids = { phone: useId() };
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState("");
  const [codeSent, setCodeSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);

  const fail = (err: unknown, fallback: Text) => {
    const expired = err instanceof ApiError && err.status === 401;
    const limited = err instanceof ApiError && err.status === 429;
    setMessage({ kind: "error", text: tr(lang, expired ? common.sessionExpired : limited ? common.genericError : fallback) });
  };
  const onSend = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      await api.requestPhoneChangeOtp(phone.trim());
      setCodeSent(true);
    } catch (err) {
      fail(err, err instanceof ApiError && err.status === 400 ? t.badPhone : common.genericError);
    } finally {
      setBusy(false);
    }
  };
  const onConfirm = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      await api.changePhone({ phone: phone.trim(), otp: code });
      setMessage({ kind: "ok", text: tr(lang, t.changed) });
      setCodeSent(false);
      setCode("");
      setPhone("");
      onChanged();
    } catch (err) {
      fail(err, t.wrongCode);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="subsection" aria-labelledby="phone-change-title">
      <h2 id="phone-change-title">{tr(lang, t.title)}</h2>
      <p>{tr(lang, t.intro)}</p>
      {message && (
        <p className={message.kind === "ok" ? "note-ok" : "error"} role={message.kind === "ok" ? "status" : "alert"}>
          {message.text}
        </p>
      )}
      <form onSubmit={onSend} className="stack">
        <label htmlFor={ids.phone}>{tr(lang, t.phone)}</label>
        <input id={ids.phone} type="tel" inputMode="tel" autoComplete="tel" required maxLength={20} value={phone} onChange={(e) => setPhone(e.target.value)} />
        <button type="submit" className={codeSent ? "button button-secondary" : "button"} disabled={busy || phone.trim().length < 8}>
          {tr(lang, codeSent ? t.resend : t.sendCode)}
        </button>
      </form>
      {codeSent && (
        <OtpCodeForm lang={lang} sentNote={t.codeSent} label={t.code} submitLabel={t.confirm} code={code} setCode={setCode} busy={busy} onSubmit={onConfirm} />
      )}
    </section>
  );
}
