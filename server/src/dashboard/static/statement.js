// The monthly statement: what LINE and the SMS provider will invoice for a Taipei month, and LINE's own daily
// counts beside ours, every difference flagged (GET /stats/statement).
"use strict";
(function () {
  const { $, el, fill, api, fmt } = window.OA;
  const { int, twd } = fmt;
  const n = (v) => (v === null || v === undefined ? "–" : int.format(v));
  const signed = (v) => (v === null ? "–" : v > 0 ? `+${int.format(v)}` : int.format(v));
  const STATUS = {
    ready: "已結算 ready",
    unready: "LINE 尚未統計 unready",
    future: "未到 not yet",
    out_of_service: "無資料 out of service",
    error: "查詢失敗 error",
  };

  function render(s) {
    $("statement-range").textContent = `${s.month}（台北時間 ${fmt.day.format(new Date(s.from))} – ${fmt.day.format(new Date(Date.parse(s.to) - 1))}）`;
    fill(
      $("statement-table").tBodies[0],
      el(
        "tr",
        { "data-item": "pnp" },
        el("th", { scope: "row" }, "通知型訊息 PNP 已送達（計費）delivered, billable"),
        el("td", { class: "num" }, int.format(s.pnpDelivered)),
        el("td", { class: "num" }, twd(s.costTwd.pnp)),
      ),
      el(
        "tr",
        { "data-item": "push" },
        el("th", { scope: "row" }, "LINE 推播 push delivered"),
        el("td", { class: "num" }, int.format(s.pushDelivered)),
        el("td", { class: "num" }, twd(s.costTwd.push)),
      ),
      el(
        "tr",
        { "data-item": "sms" },
        el("th", { scope: "row" }, "簡訊 SMS sent"),
        el("td", { class: "num" }, `${int.format(s.smsSent)}（${int.format(s.smsParts)} 段 parts）`),
        el("td", { class: "num" }, twd(s.costTwd.sms)),
      ),
      el(
        "tr",
        { "data-item": "total" },
        el("th", { scope: "row" }, "合計 Total"),
        el("td"),
        el("td", { class: "num" }, el("strong", {}, twd(s.costTwd.total))),
      ),
    );
    const r = s.reconciliation;
    const shown = r.days.filter((d) => d.line.status !== "future");
    const tbody = $("reconcile-table").tBodies[0];
    if (!shown.length) fill(tbody, window.OA.emptyRow(8, "本月尚無可對帳的日子 · no day to reconcile yet"));
    else
      fill(
        tbody,
        ...shown.map((d) =>
          el(
            "tr",
            { "data-date": d.date, class: d.flagged ? "flag" : null },
            el("th", { scope: "row" }, d.date),
            el("td", { class: "num" }, n(d.ours.push)),
            el("td", { class: "num" }, n(d.line.push)),
            el("td", { class: "num diff" }, signed(d.diff.push)),
            el("td", { class: "num" }, n(d.ours.pnp)),
            el("td", { class: "num" }, n(d.line.pnp)),
            el("td", { class: "num diff" }, signed(d.diff.pnp)),
            el("td", {}, d.flagged ? el("strong", { class: "err" }, "⚠ 不一致 differs") : STATUS[d.line.status] || d.line.status),
          ),
        ),
      );
    $("reconcile-summary").textContent =
      `對帳 ${int.format(r.comparedDays)} 天，${int.format(r.flaggedDays)} 天不一致 · ${r.comparedDays} days compared, ${r.flaggedDays} differ. ` +
      `LINE 推播 ${n(r.totals.line.push)} / 我們 ${n(r.totals.ours.push)}；PNP ${n(r.totals.line.pnp)} / 我們 ${n(r.totals.ours.pnp)}`;
    $("reconcile-summary").className = r.flaggedDays ? "err" : "help";
  }

  async function load() {
    const month = $("statement-month").value || window.OA.taipeiMonth(new Date());
    render(await api(`/stats/statement?month=${encodeURIComponent(month)}`));
  }
  window.OA.section({ id: "statement", load });
  document.addEventListener("DOMContentLoaded", () => {
    $("statement-month").value = window.OA.taipeiMonth(new Date());
    $("statement-month").addEventListener("change", () => load().catch((e) => window.OA.setStatus(e.message, true)));
    for (const [id, name] of [
      ["statement-table", "statement"],
      ["reconcile-table", "reconciliation"],
    ])
      $(id).before(window.OA.csvButton($(id), name));
  });
})();
