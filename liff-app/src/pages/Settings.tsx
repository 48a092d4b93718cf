import { useEffect, useRef, useState } from "react";
import { ApiError, type ConsentEntry, type Me } from "../api.ts";
import { useApp } from "../context.tsx";
import { useLoad } from "../hooks.ts";
import { common, formatDateTime, type Text, tr } from "../i18n.ts";
import PhoneChange from "./PhoneChange.tsx";

const t = {
  title: { "zh-TW": "設定與綁定", en: "Settings" },
  status: { "zh-TW": "綁定狀態", en: "Link status" },
  bound: { "zh-TW": "已綁定", en: "Linked" },
  notBound: { "zh-TW": "尚未綁定會員", en: "Not linked to a membership" },
  notBoundBody: { "zh-TW": "綁定後，帳單與出貨通知會優先用 LINE 傳送給你。", en: "Link your membership to get bills and delivery notices on LINE first." },
  bindNow: { "zh-TW": "前往綁定", en: "Link membership" },
  member: { "zh-TW": "會員編號", en: "Member no." },
  phone: { "zh-TW": "手機號碼", en: "Mobile" },
  boundAt: { "zh-TW": "綁定時間", en: "Linked on" },
  friend: { "zh-TW": "官方帳號好友", en: "Official account friend" },
  isFriend: { "zh-TW": "是", en: "Yes" },
  notFriend: { "zh-TW": "否", en: "No" },
  history: { "zh-TW": "同意紀錄", en: "Consent history" },
  noHistory: { "zh-TW": "目前沒有紀錄。", en: "No records yet." },
  grant: { "zh-TW": "同意綁定", en: "Agreed" },
  withdraw: { "zh-TW": "撤回同意", en: "Withdrew" },
  version: { "zh-TW": "說明版本", en: "Notice version" },
  unbind: { "zh-TW": "解除綁定並撤回同意", en: "Unlink and withdraw consent" },
  confirmTitle: { "zh-TW": "確定要解除綁定嗎？", en: "Unlink now?" },
  confirmBody: {
    "zh-TW":
      "解除後立即生效：我們不會再用 LINE 傳送你的通知（包括官方帳號訊息與 LINE 通知型訊息），改用簡訊傳送到你的手機；只能用 LINE 傳送的通知將不再寄出。你之後可以再綁定並重新同意。",
    en: "This takes effect at once: we stop sending your notices on LINE (official account messages and LINE notification messages) and send them by SMS to your mobile instead; notices that can only go on LINE are no longer sent. You can link and agree again later.",
  },
  confirm: { "zh-TW": "確定解除", en: "Unlink" },
  cancel: { "zh-TW": "取消", en: "Cancel" },
  unbound: {
    "zh-TW": "已解除綁定並撤回同意。之後的通知會改用簡訊傳送。",
    en: "Unlinked; your consent is withdrawn. From now on your notices come by SMS.",
  },
} satisfies Record<string, Text>;

const methodText: Record<string, Text> = {
  binding_link: { "zh-TW": "綁定連結", en: "binding link" },
  otp: { "zh-TW": "手機驗證碼", en: "SMS code" },
  liff: { "zh-TW": "設定頁", en: "Settings page" },
  rebind: { "zh-TW": "改綁其他帳號", en: "moved to another account" },
  admin: { "zh-TW": "客服處理", en: "customer service" },
};

export default function SettingsPage() {
  const { api, lang, navigate, config } = useApp();
  const data = useLoad<{ me: Me; consents: ConsentEntry[] }>(async () => {
    const [me, c] = await Promise.all([api.me(), api.consents()]);
    return { me, consents: c.items };
  }, "settings");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const unbindRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);

  if (data.state === "loading")
    return (
      <p className="muted" role="status">
        {tr(lang, common.loading)}
      </p>
    );
  if (data.state === "error") {
    const expired = data.error instanceof ApiError && data.error.status === 401;
    return (
      <section className="card">
        <h1 tabIndex={-1}>{tr(lang, t.title)}</h1>
        <p role="alert">{tr(lang, expired ? common.sessionExpired : common.genericError)}</p>
        <button type="button" className="button button-secondary" onClick={data.reload}>
          {tr(lang, common.retry)}
        </button>
      </section>
    );
  }
  const { me, consents } = data.data;

  const doUnbind = async () => {
    setBusy(true);
    setMessage(null);
    try {
      await api.unbind();
      setMessage({ kind: "ok", text: tr(lang, t.unbound) });
    } catch (err) {
      // Already unlinked elsewhere: the result the person wanted.
      if (err instanceof ApiError && err.status === 404) setMessage({ kind: "ok", text: tr(lang, t.unbound) });
      else setMessage({ kind: "error", text: tr(lang, err instanceof ApiError && err.status === 401 ? common.sessionExpired : common.genericError) });
    } finally {
      setBusy(false);
      setConfirming(false);
      data.reload();
    }
  };

  return (
    <>
      <section className="card" aria-labelledby="settings-title">
        <h1 id="settings-title" tabIndex={-1}>
          {tr(lang, t.title)}
        </h1>
        {message && (
          <p className={message.kind === "ok" ? "note-ok" : "error"} role={message.kind === "ok" ? "status" : "alert"}>
            {message.text}
          </p>
        )}
        <h2>{tr(lang, t.status)}</h2>
        {me.member ? (
          <>
            <p>
              <span className="badge badge-ok">{tr(lang, t.bound)}</span>
            </p>
            <dl className="facts">
              <div className="row">
                <dt>{tr(lang, t.member)}</dt>
                <dd>{me.member.memberId}</dd>
              </div>
              {me.member.phone && (
                <div className="row">
                  <dt>{tr(lang, t.phone)}</dt>
                  <dd>{me.member.phone}</dd>
                </div>
              )}
              {me.member.boundAt && (
                <div className="row">
                  <dt>{tr(lang, t.boundAt)}</dt>
                  <dd>{formatDateTime(me.member.boundAt, lang)}</dd>
                </div>
              )}
              <div className="row">
                <dt>{tr(lang, t.friend)}</dt>
                <dd>{tr(lang, me.friend ? t.isFriend : t.notFriend)}</dd>
              </div>
            </dl>
            <PhoneChange onChanged={data.reload} />
            {!confirming ? (
              <button ref={unbindRef} type="button" className="button button-danger" onClick={() => setConfirming(true)}>
                {tr(lang, t.unbind)}
              </button>
            ) : (
              <div className="confirm" role="alertdialog" aria-labelledby="confirm-title" aria-describedby="confirm-body">
                <h3 id="confirm-title">{tr(lang, t.confirmTitle)}</h3>
                <p id="confirm-body">{tr(lang, t.confirmBody)}</p>
                <div className="actions">
                  <button ref={confirmRef} type="button" className="button button-danger" disabled={busy} onClick={() => void doUnbind()}>
                    {tr(lang, t.confirm)}
                  </button>
                  <button
                    type="button"
                    className="button button-secondary"
                    disabled={busy}
                    onClick={() => {
                      setConfirming(false);
                      setTimeout(() => unbindRef.current?.focus(), 0);
                    }}
                  >
                    {tr(lang, t.cancel)}
                  </button>
                </div>
              </div>
            )}
          </>
        ) : (
          <>
            <p>
              <span className="badge badge-muted">{tr(lang, t.notBound)}</span>
            </p>
            <p>{tr(lang, t.notBoundBody)}</p>
            <a
              className="button"
              href="/liff/bind"
              onClick={(e) => {
                e.preventDefault();
                navigate("/liff/bind");
              }}
            >
              {tr(lang, t.bindNow)}
            </a>
          </>
        )}
        {!me.friend && config.addFriendUrl && (
          <p className="friend-link">
            <a href={config.addFriendUrl} target="_blank" rel="noopener noreferrer">
              {tr(lang, common.addFriendButton)} →
            </a>
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="history-title">
        <h2 id="history-title">{tr(lang, t.history)}</h2>
        {consents.length === 0 ? (
          <p className="muted">{tr(lang, t.noHistory)}</p>
        ) : (
          <ol className="history">
            {consents.map((c, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list rendered once; items have no id and never reorder.
              <li key={i}>
                <strong>{tr(lang, c.action === "grant" ? t.grant : t.withdraw)}</strong>
                <span>
                  {formatDateTime(c.at, lang)} · {methodText[c.method] ? tr(lang, methodText[c.method]!) : c.method}
                </span>
                <span className="muted small">
                  {tr(lang, t.member)} {c.memberId} · {tr(lang, t.version)} {c.noticeVersion}
                </span>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
