import { type ReactNode, useEffect, useState } from "react";
import { ApiError, type Bill, type Order, type Viewer } from "../api.ts";
import { useApp } from "../context.tsx";
import { useLoad } from "../hooks.ts";
import { common, formatDate, formatDateTime, formatTwd, type Text, tr } from "../i18n.ts";

const t = {
  order: { "zh-TW": "訂單", en: "Order" },
  bill: { "zh-TW": "帳單", en: "Bill" },
  orderNo: { "zh-TW": "訂單編號", en: "Order no." },
  billNo: { "zh-TW": "帳單編號", en: "Bill no." },
  status: { "zh-TW": "狀態", en: "Status" },
  items: { "zh-TW": "商品明細", en: "Items" },
  billItems: { "zh-TW": "費用明細", en: "Charges" },
  total: { "zh-TW": "總金額", en: "Total" },
  amountDue: { "zh-TW": "應繳金額", en: "Amount due" },
  billAmount: { "zh-TW": "帳單金額", en: "Bill amount" },
  orderedAt: { "zh-TW": "訂購時間", en: "Ordered" },
  deliveryEta: { "zh-TW": "預計送達", en: "Estimated delivery" },
  dueAt: { "zh-TW": "繳費期限", en: "Due date" },
  period: { "zh-TW": "帳單期間", en: "Billing period" },
  issuedAt: { "zh-TW": "開立日期", en: "Issued" },
  track: { "zh-TW": "查詢配送進度", en: "Track delivery" },
  pay: { "zh-TW": "前往繳費", en: "Pay now" },
  paidNote: { "zh-TW": "此帳單已繳清，謝謝。", en: "This bill is paid. Thank you." },
  notFound: {
    "zh-TW": "找不到這筆資料，或你沒有權限查看。請從通知中的按鈕重新開啟。",
    en: "We couldn't find this, or you don't have access to it. Please open it again from your notification.",
  },
  newTab: { "zh-TW": "（開啟外部網頁）", en: " (opens an external page)" },
  qty: { "zh-TW": "數量", en: "Qty" },
} satisfies Record<string, Text>;

const statusText: Record<string, Text> = {
  pending: { "zh-TW": "處理中", en: "Pending" },
  paid: { "zh-TW": "已付款", en: "Paid" },
  processing: { "zh-TW": "備貨中", en: "Processing" },
  shipped: { "zh-TW": "已出貨", en: "Shipped" },
  delivered: { "zh-TW": "已送達", en: "Delivered" },
  ready_for_pickup: { "zh-TW": "可取貨", en: "Ready for pickup" },
  cancelled: { "zh-TW": "已取消", en: "Cancelled" },
  returned: { "zh-TW": "已退貨", en: "Returned" },
  unpaid: { "zh-TW": "待繳費", en: "Unpaid" },
  overdue: { "zh-TW": "已逾期", en: "Overdue" },
};
const statusTone: Record<string, string> = { paid: "ok", delivered: "ok", unpaid: "warn", overdue: "bad", cancelled: "muted", returned: "muted" };

function Status({ value }: { value: string }) {
  const { lang } = useApp();
  const label = statusText[value] ? tr(lang, statusText[value]) : value;
  return <span className={`badge badge-${statusTone[value] ?? "info"}`}>{label}</span>;
}

/** Shown when LINE says the viewer is not a friend of the OA; the prompt is recorded so a later follow counts. */
export function FriendPrompt({ viewToken, page }: { viewToken: string | null; page: "order" | "bill" }) {
  const { liff, api, config, lang } = useApp();
  const [show, setShow] = useState(false);
  useEffect(() => {
    let live = true;
    if (!config.addFriendUrl) return;
    liff
      .getFriendship()
      .then(({ friendFlag }) => {
        if (!live || friendFlag) return;
        setShow(true);
        api.friendPrompt({ page, ...(viewToken ? { viewToken } : {}) }).catch(() => {});
      })
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [liff, api, config.addFriendUrl, viewToken, page]);
  if (!show || !config.addFriendUrl) return null;
  return (
    <aside className="card card-accent" aria-labelledby="friend-title">
      <h2 id="friend-title">{tr(lang, common.addFriendTitle)}</h2>
      <p>{tr(lang, common.addFriendBody)}</p>
      <a className="button" href={config.addFriendUrl} target="_blank" rel="noopener noreferrer">
        {tr(lang, common.addFriendButton)}
      </a>
    </aside>
  );
}

function BindOffer({ viewer }: { viewer: Viewer }) {
  const { lang, navigate } = useApp();
  if (viewer.access !== "view_token" || viewer.bound) return null;
  return (
    <aside className="card" aria-labelledby="bind-offer-title">
      <h2 id="bind-offer-title">{tr(lang, common.bindOfferTitle)}</h2>
      <p>{tr(lang, common.bindOfferBody)}</p>
      <a
        className="button button-secondary"
        href="/liff/bind"
        onClick={(e) => {
          e.preventDefault();
          navigate("/liff/bind");
        }}
      >
        {tr(lang, common.bindOfferButton)}
      </a>
    </aside>
  );
}

function Problem({ error }: { error: unknown }) {
  const { lang } = useApp();
  const msg =
    error instanceof ApiError && error.status === 404
      ? t.notFound
      : error instanceof ApiError && error.status === 401
        ? common.sessionExpired
        : common.genericError;
  return (
    <section className="card">
      <h1 tabIndex={-1}>{tr(lang, error instanceof ApiError && error.status === 404 ? common.notFoundTitle : common.genericError)}</h1>
      <p role="alert">{tr(lang, msg)}</p>
    </section>
  );
}

function Row({ label, children }: { label: Text; children: ReactNode }) {
  const { lang } = useApp();
  return (
    <div className="row">
      <dt>{tr(lang, label)}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function ExternalButton({ href, label, primary }: { href: string; label: Text; primary?: boolean }) {
  const { lang } = useApp();
  return (
    <a className={primary ? "button" : "button button-secondary"} href={href} target="_blank" rel="noopener noreferrer">
      {tr(lang, label)}
      <span className="sr-only">{tr(lang, t.newTab)}</span>
    </a>
  );
}

export function OrderPage({ id, viewToken }: { id: string; viewToken: string | null }) {
  const { api, lang } = useApp();
  const s = useLoad<Order>(() => api.order(id, viewToken), `${id}|${viewToken}`);
  if (s.state === "loading")
    return (
      <p className="muted" role="status">
        {tr(lang, common.loading)}
      </p>
    );
  if (s.state === "error") return <Problem error={s.error} />;
  const o = s.data;
  return (
    <>
      <section className="card" aria-labelledby="page-title">
        <p className="eyebrow">{tr(lang, t.order)}</p>
        <h1 id="page-title" tabIndex={-1}>
          {tr(lang, t.orderNo)} {o.orderId}
        </h1>
        <p className="amount-label">{tr(lang, t.total)}</p>
        <p className="amount">{formatTwd(o.amountTwd, lang)}</p>
        <dl className="facts">
          <Row label={t.status}>
            <Status value={o.status} />
          </Row>
          {o.orderedAt && <Row label={t.orderedAt}>{formatDateTime(o.orderedAt, lang)}</Row>}
          {o.deliveryEta && <Row label={t.deliveryEta}>{formatDate(o.deliveryEta, lang)}</Row>}
        </dl>
        {o.trackingUrl && <ExternalButton href={o.trackingUrl} label={t.track} primary />}
      </section>
      <section className="card" aria-labelledby="items-title">
        <h2 id="items-title">{tr(lang, t.items)}</h2>
        <ul className="items">
          {o.items.map((it, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list rendered once; items have no id and never reorder.
            <li key={i}>
              <span className="item-name">{it.name}</span>
              <span className="item-qty">
                {tr(lang, t.qty)} {it.quantity} × {formatTwd(it.unitPriceTwd, lang)}
              </span>
              <span className="item-total">{formatTwd(it.quantity * it.unitPriceTwd, lang)}</span>
            </li>
          ))}
        </ul>
        <p className="total">
          <span>{tr(lang, t.total)}</span> <strong>{formatTwd(o.amountTwd, lang)}</strong>
        </p>
      </section>
      <FriendPrompt viewToken={viewToken} page="order" />
      <BindOffer viewer={o.viewer} />
    </>
  );
}

export function BillPage({ id, viewToken }: { id: string; viewToken: string | null }) {
  const { api, lang } = useApp();
  const s = useLoad<Bill>(() => api.bill(id, viewToken), `${id}|${viewToken}`);
  if (s.state === "loading")
    return (
      <p className="muted" role="status">
        {tr(lang, common.loading)}
      </p>
    );
  if (s.state === "error") return <Problem error={s.error} />;
  const b = s.data;
  const open = b.status === "unpaid" || b.status === "overdue";
  return (
    <>
      <section className="card" aria-labelledby="page-title">
        <p className="eyebrow">{tr(lang, t.bill)}</p>
        <h1 id="page-title" tabIndex={-1}>
          {tr(lang, t.billNo)} {b.billId}
        </h1>
        <p className="amount-label">{tr(lang, open ? t.amountDue : t.billAmount)}</p>
        <p className="amount">{formatTwd(b.amountTwd, lang)}</p>
        <dl className="facts">
          <Row label={t.status}>
            <Status value={b.status} />
          </Row>
          {b.dueAt && <Row label={t.dueAt}>{formatDate(b.dueAt, lang)}</Row>}
          {b.period && <Row label={t.period}>{b.period}</Row>}
          {b.issuedAt && <Row label={t.issuedAt}>{formatDate(b.issuedAt, lang)}</Row>}
        </dl>
        {open && b.paymentUrl && <ExternalButton href={b.paymentUrl} label={t.pay} primary />}
        {b.status === "paid" && <p className="note-ok">{tr(lang, t.paidNote)}</p>}
      </section>
      {b.items && b.items.length > 0 && (
        <section className="card" aria-labelledby="items-title">
          <h2 id="items-title">{tr(lang, t.billItems)}</h2>
          <ul className="items">
            {b.items.map((it, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list rendered once; items have no id and never reorder.
              <li key={i}>
                <span className="item-name">{it.name}</span>
                <span className="item-total">{formatTwd(it.amountTwd, lang)}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <FriendPrompt viewToken={viewToken} page="bill" />
      <BindOffer viewer={b.viewer} />
    </>
  );
}
