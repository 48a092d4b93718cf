import { type FormEvent, useId, useRef, useState } from "react";
import { ApiError } from "../api.ts";
import { CONSENT_VERSION, consentNotice } from "../consent.ts";
import { useApp } from "../context.tsx";
import { useLoad } from "../hooks.ts";
import { common, type Lang, type Text, tr } from "../i18n.ts";
import { OtpCodeForm } from "./OtpCodeForm.tsx";

const t = {
  title: { "zh-TW": "綁定會員與 LINE", en: "Link your membership to LINE" },
  intro: {
    "zh-TW": "綁定後，帳單、出貨等通知會優先用 LINE 送給你。",
    en: "Once linked, we send bills, delivery notices and other updates to you on LINE first.",
  },
  alreadyBound: {
    "zh-TW": "你目前已綁定會員 {id}。繼續綁定會改為新的會員。",
    en: "You are linked to member {id}. Continuing moves the link to the new membership.",
  },
  byLink: { "zh-TW": "使用業者提供的綁定連結", en: "Using the link from the business" },
  bindNow: { "zh-TW": "同意並綁定", en: "Agree and link" },
  byPhone: { "zh-TW": "用手機號碼驗證", en: "Verify with your phone number" },
  phone: { "zh-TW": "手機號碼", en: "Mobile number" },
  phoneHint: { "zh-TW": "請輸入你在本服務登記的手機號碼，例如 0912345678。", en: "The mobile number registered with us, e.g. 0912345678." },
  sendCode: { "zh-TW": "傳送驗證碼", en: "Send code" },
  resend: { "zh-TW": "重新傳送驗證碼", en: "Send a new code" },
  codeSent: {
    "zh-TW": "若這個號碼已登記，驗證碼會以簡訊寄出，5 分鐘內有效。",
    en: "If this number is registered, a code is on its way by SMS. It is valid for 5 minutes.",
  },
  code: { "zh-TW": "6 位數驗證碼", en: "6-digit code" },
  needConsent: { "zh-TW": "請先勾選同意說明。", en: "Please tick the consent box first." },
  done: { "zh-TW": "綁定完成", en: "Linked" },
  doneBody: {
    "zh-TW": "之後的通知會透過 LINE 傳送給你。你可以隨時在設定頁解除綁定。",
    en: "From now on we send notices to you on LINE. You can unlink at any time in Settings.",
  },
  toSettings: { "zh-TW": "查看設定", en: "Go to Settings" },
  linkUsed: {
    "zh-TW": "這個綁定連結已使用過或已過期，請向業者索取新連結，或改用手機號碼驗證。",
    en: "This link has been used or has expired. Ask the business for a new one, or verify with your phone number.",
  },
  wrongCode: { "zh-TW": "驗證碼錯誤或已過期。", en: "The code is wrong or has expired." },
  attemptsLeft: { "zh-TW": "還可以再試 {n} 次。", en: "{n} attempt(s) left." },
  tooMany: { "zh-TW": "嘗試次數過多，請稍後再試或重新傳送驗證碼。", en: "Too many attempts. Please wait, or ask for a new code." },
  badPhone: { "zh-TW": "請輸入有效的台灣手機號碼。", en: "Please enter a valid Taiwan mobile number." },
} satisfies Record<string, Text>;

function errorText(err: unknown, lang: Lang, kind: "link" | "otp" | "send"): string {
  if (!(err instanceof ApiError)) return tr(lang, common.genericError);
  if (err.status === 401) return tr(lang, common.sessionExpired);
  if (err.status === 429) return tr(lang, t.tooMany);
  if (kind === "link" && (err.status === 400 || err.status === 409)) return tr(lang, t.linkUsed);
  if (kind === "send" && err.status === 400) return tr(lang, t.badPhone);
  if (kind === "otp" && err.status === 400) {
    if (err.code === "validation_failed" && /phone/.test(err.message)) return tr(lang, t.badPhone);
    const left = (err.details as { attemptsLeft?: number } | undefined)?.attemptsLeft;
    return tr(lang, t.wrongCode) + (typeof left === "number" && left > 0 ? ` ${tr(lang, t.attemptsLeft).replace("{n}", String(left))}` : "");
  }
  return tr(lang, common.genericError);
}

export default function BindPage({ bindingToken }: { bindingToken: string | null }) {
  const { api, lang, navigate } = useApp();
  const me = useLoad(() => api.me(), "me");
  const [agreed, setAgreed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState("");
  const [codeSent, setCodeSent] = useState(false);
  const [done, setDone] = useState(false);
  const consentRef = useRef<HTMLInputElement>(null);
  const doneRef = useRef<HTMLHeadingElement>(null);
  const ids = { consent: useId(), phone: useId(), phoneHint: useId(), err: useId() };

  const consent = { version: CONSENT_VERSION, accepted: true as const };
  const guard = () => {
    if (agreed) return true;
    setError(tr(lang, t.needConsent));
    consentRef.current?.focus();
    return false;
  };
  const run = async (fn: () => Promise<void>, kind: "link" | "otp" | "send") => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err, lang, kind));
    } finally {
      setBusy(false);
    }
  };
  const finish = () => {
    setDone(true);
    setTimeout(() => doneRef.current?.focus(), 0);
  };

  if (done) {
    return (
      <section className="card" aria-labelledby="done-title">
        <h1 id="done-title" ref={doneRef} tabIndex={-1}>
          ✓ {tr(lang, t.done)}
        </h1>
        <p>{tr(lang, t.doneBody)}</p>
        <a
          className="button"
          href="/liff/settings"
          onClick={(e) => {
            e.preventDefault();
            navigate("/liff/settings");
          }}
        >
          {tr(lang, t.toSettings)}
        </a>
      </section>
    );
  }

  const onLink = (e: FormEvent) => {
    e.preventDefault();
    if (!guard()) return;
    void run(async () => {
      await api.bind({ bindingToken: bindingToken!, consent });
      finish();
    }, "link");
  };
  const onSend = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await api.requestOtp(phone);
      setCodeSent(true);
    }, "send");
  };
  const onOtp = (e: FormEvent) => {
    e.preventDefault();
    if (!guard()) return;
    void run(async () => {
      await api.bind({ phone, otp: code, consent });
      finish();
    }, "otp");
  };

  return (
    <>
      <section className="card" aria-labelledby="bind-title">
        <h1 id="bind-title" tabIndex={-1}>
          {tr(lang, t.title)}
        </h1>
        <p>{tr(lang, t.intro)}</p>
        {me.state === "ready" && me.data.member && <p className="note">{tr(lang, t.alreadyBound).replace("{id}", me.data.member.memberId)}</p>}
      </section>

      <section className="card consent" aria-labelledby="consent-title">
        <h2 id="consent-title">{tr(lang, consentNotice.title)}</h2>
        {consentNotice.sections.map((s) => (
          <div key={s.heading.en}>
            <h3>{tr(lang, s.heading)}</h3>
            <p>{tr(lang, s.body)}</p>
          </div>
        ))}
        <p className="check">
          <input
            id={ids.consent}
            ref={consentRef}
            type="checkbox"
            checked={agreed}
            onChange={(e) => {
              setAgreed(e.target.checked);
              if (e.target.checked) setError(null);
            }}
          />
          <label htmlFor={ids.consent}>{tr(lang, consentNotice.agree)}</label>
        </p>
      </section>

      {error && (
        <p id={ids.err} className="error" role="alert">
          {error}
        </p>
      )}

      {bindingToken ? (
        <form className="card" onSubmit={onLink} aria-labelledby="by-link-title">
          <h2 id="by-link-title">{tr(lang, t.byLink)}</h2>
          <button type="submit" className="button" disabled={busy} aria-describedby={error ? ids.err : undefined}>
            {tr(lang, t.bindNow)}
          </button>
        </form>
      ) : (
        <section className="card" aria-labelledby="by-phone-title">
          <h2 id="by-phone-title">{tr(lang, t.byPhone)}</h2>
          <form onSubmit={onSend} className="stack">
            <label htmlFor={ids.phone}>{tr(lang, t.phone)}</label>
            <input
              id={ids.phone}
              type="tel"
              inputMode="tel"
              autoComplete="tel"
              required
              maxLength={20}
              value={phone}
              aria-describedby={ids.phoneHint}
              onChange={(e) => setPhone(e.target.value)}
            />
            <p id={ids.phoneHint} className="hint">
              {tr(lang, t.phoneHint)}
            </p>
            <button type="submit" className={codeSent ? "button button-secondary" : "button"} disabled={busy || phone.trim().length < 8}>
              {tr(lang, codeSent ? t.resend : t.sendCode)}
            </button>
          </form>
          {codeSent && (
            <OtpCodeForm lang={lang} sentNote={t.codeSent} label={t.code} submitLabel={t.bindNow} code={code} setCode={setCode} busy={busy} onSubmit={onOtp} />
          )}
        </section>
      )}
    </>
  );
}
