// What failed and why (GET /stats/failures), and how far along the batches are (GET /stats/batches).
"use strict";
(function () {
  const { $, el, fill, api, range, fmt, label, CHANNELS, STATES } = window.OA;
  const { int, when } = fmt;

  function renderFailures(f) {
    $("failures-count").textContent =
      `${int.format(f.total)} 則 notices${f.total > f.failures.length ? `（顯示最新 ${f.failures.length} 則 newest shown）` : ""}`;
    const tbody = $("failure-table").tBodies[0];
    if (!f.failures.length) return fill(tbody, window.OA.emptyRow(7, "此期間沒有失敗的通知 · nothing failed in this period"));
    fill(
      tbody,
      ...f.failures.map((x) =>
        el(
          "tr",
          { "data-notification": x.id },
          el("td", {}, when(x.settledAt)),
          el("td", {}, x.memberId || "–"),
          el("td", {}, `${x.scenario} · ${x.urgency}`),
          el("td", {}, label(CHANNELS, x.channel || "undecided")),
          el("td", {}, el("span", { class: `pill ${x.status}` }, label(STATES, x.status))),
          el("td", { class: "reason" }, x.reason || "–"),
          el("td", { "data-csv": x.id }, window.OA.timelineDetails(x.id)),
        ),
      ),
    );
  }

  function renderBatches(b) {
    const tbody = $("batch-table").tBodies[0];
    if (!b.batches.length) return fill(tbody, window.OA.emptyRow(6, "最近 24 小時沒有批次 · no batch in the last 24 hours"));
    fill(
      tbody,
      ...b.batches.map((x) =>
        el(
          "tr",
          { "data-batch": x.batchId, class: x.running ? "running" : null },
          el("td", {}, el("code", {}, x.batchId)),
          el("td", {}, when(x.createdAt)),
          el("td", { class: "num" }, `${int.format(x.settled)} / ${int.format(x.total)}`),
          el(
            "td",
            { "data-csv": String(x.progress) },
            el("progress", { max: String(x.total), value: String(x.settled), "aria-label": `進度 progress ${Math.round(x.progress * 100)}%` }),
            ` ${Math.round(x.progress * 100)}%`,
          ),
          el(
            "td",
            {},
            Object.entries(x.byStatus)
              .map(([st, n]) => `${label(STATES, st)} ${int.format(n)}`)
              .join("、"),
          ),
          el("td", {}, x.running ? "進行中 running" : "完成 done"),
        ),
      ),
    );
  }

  window.OA.section({
    id: "failures",
    async load({ period }) {
      const [f, b] = await Promise.all([api(`/stats/failures?${range(period)}`), api("/stats/batches")]);
      renderFailures(f);
      renderBatches(b);
    },
  });
  document.addEventListener("DOMContentLoaded", () => {
    for (const [id, name] of [
      ["failure-table", "failures"],
      ["batch-table", "batches"],
    ])
      $(id).before(window.OA.csvButton($(id), name));
  });
})();
