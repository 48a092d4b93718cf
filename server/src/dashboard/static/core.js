// Operator dashboard, shared helpers: vanilla JS, no build step, text-only DOM writes (never innerHTML with data
// from the API). Every section is its own file that calls OA.section({ id, load }); app.js loads them all.
"use strict";
(function () {
  const KEY = "oa-notify.apiKey";
  const DAY = 86400000;
  const TAIPEI = 8 * 3600000; // Asia/Taipei is UTC+8 all year (no DST)
  const $ = (id) => document.getElementById(id);
  const tz = { timeZone: "Asia/Taipei" };
  const fmtTime = new Intl.DateTimeFormat("zh-TW", {
    ...tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
  const fmtDay = new Intl.DateTimeFormat("zh-TW", { ...tz, year: "numeric", month: "2-digit", day: "2-digit" });
  const fmtMonthDay = new Intl.DateTimeFormat("zh-TW", { ...tz, month: "numeric", day: "numeric" });
  const fmtHour = new Intl.DateTimeFormat("zh-TW", { ...tz, hour: "2-digit", hour12: false });
  const int = new Intl.NumberFormat("zh-TW");
  const twdFmt = new Intl.NumberFormat("zh-TW", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const pct = (x) => `${(Math.round(x * 1000) / 10).toFixed(1)}%`;
  const twd = (x) => `NT$${twdFmt.format(x)}`;
  const when = (iso) => (iso ? fmtTime.format(new Date(iso)) : "–");

  const CHANNELS = { push: "LINE 推播 push", pnp: "通知型訊息 PNP", sms: "簡訊 SMS", none: "無管道 none", undecided: "尚未決定 undecided" };
  const STATES = {
    accepted: "已受理 accepted",
    queued: "排程中 queued",
    sent: "已送出 sent",
    delivered: "已送達 delivered",
    fallback_sms: "改發簡訊中 fallback SMS",
    sms_sent: "簡訊已送出 SMS sent",
    undelivered: "未送達 undelivered",
    failed: "失敗 failed",
    undeliverable: "無法投遞 undeliverable",
    delivered_late: "晚到 delivered late",
    cancelled: "已取消 cancelled",
    rerouted: "改道 rerouted",
  };
  const label = (map, k) => map[k] || String(k);

  /** An element; null/undefined children are skipped (never the text "null"). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  /** replaceChildren without the null/undefined ones (replaceChildren(null) would write the text "null"). */
  const fill = (node, ...children) => node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));

  function setStatus(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = isError ? "status err" : "status";
  }

  const getKey = () => sessionStorage.getItem(KEY);
  const setKey = (k) => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY));
  const keyListeners = [];

  async function api(path) {
    const key = getKey();
    if (!key) throw new Error("請先輸入 API 金鑰 · enter the API key first");
    const res = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${key}`, accept: "application/json" }, cache: "no-store" });
    const body = await res.json().catch(() => null);
    if (res.status === 401) {
      setKey(null);
      for (const f of keyListeners) f();
      throw new Error("API 金鑰無效 · the API key was refused (401)");
    }
    if (!res.ok) throw new Error(body?.error?.message || `HTTP ${res.status}`);
    return body;
  }

  // [from, to) for the last N Asia/Taipei calendar days, today included.
  function period(days) {
    const now = Date.now();
    const todayStart = Math.floor((now + TAIPEI) / DAY) * DAY - TAIPEI;
    return { days, from: new Date(todayStart - (days - 1) * DAY), to: new Date(todayStart + DAY) };
  }
  const taipeiMonth = (d) => new Date(d.getTime() + TAIPEI).toISOString().slice(0, 7);
  const range = (p) => `from=${encodeURIComponent(p.from.toISOString())}&to=${encodeURIComponent(p.to.toISOString())}`;

  /** A table's text as CSV (UTF-8 with a BOM, so Excel reads the Chinese), downloaded through a Blob URL. */
  function tableCsv(table) {
    const q = (s) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const rows = [...table.querySelectorAll(":scope > thead > tr, :scope > tbody > tr, :scope > tfoot > tr")];
    return `\uFEFF${rows.map((tr) => [...tr.children].map((c) => q((c.dataset.csv ?? c.textContent).trim())).join(",")).join("\r\n")}\r\n`;
  }
  function csvButton(table, name) {
    const b = el("button", { type: "button", class: "csv", "data-csv-for": table.id }, "下載 CSV ", el("span", { lang: "en" }, "Download CSV"));
    b.addEventListener("click", () => {
      const url = URL.createObjectURL(new Blob([tableCsv(table)], { type: "text/csv;charset=utf-8" }));
      const a = el("a", { href: url, download: `${name}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    });
    return b;
  }

  /**
   * Makes a table's columns sortable: each header becomes a button; cells sort by data-sort (a number) or text.
   * aria-sort tells assistive technology the order.
   */
  function sortable(table) {
    const heads = [...table.tHead.rows[0].cells];
    heads.forEach((th, i) => {
      const b = el("button", { type: "button", class: "sort" }, ...th.childNodes);
      th.replaceChildren(b);
      b.addEventListener("click", () => {
        const asc = th.getAttribute("aria-sort") !== "ascending";
        for (const h of heads) h.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        const key = (tr) => {
          const c = tr.cells[i];
          const v = c?.dataset.sort;
          return v !== undefined ? Number(v) : (c?.textContent ?? "");
        };
        const rows = [...table.tBodies[0].rows].filter((r) => !r.classList.contains("empty"));
        rows.sort((a, b2) => {
          const x = key(a);
          const y = key(b2);
          const d = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-TW");
          return asc ? d : -d;
        });
        table.tBodies[0].append(...rows);
      });
    });
  }

  /** A body row saying there is nothing to show. */
  const emptyRow = (cols, text) => el("tr", { class: "empty" }, el("td", { colspan: cols, class: "help" }, text));

  const sections = [];
  window.OA = {
    $,
    el,
    fill,
    api,
    getKey,
    setKey,
    onKeyLost: (f) => keyListeners.push(f),
    setStatus,
    period,
    range,
    taipeiMonth,
    fmt: { time: fmtTime, day: fmtDay, monthDay: fmtMonthDay, hour: fmtHour, int, pct, twd, when },
    CHANNELS,
    STATES,
    label,
    csvButton,
    sortable,
    emptyRow,
    /** Registers a section: `load(ctx)` is called on every refresh with { period } and may throw. */
    section: (s) => sections.push(s),
    sections,
  };
})();
