// By use case: which scenario costs the most, and which falls back to SMS (GET /stats?groupBy=scenario).
"use strict";
(function () {
  const { $, el, fill, fmt } = window.OA;
  const { int, pct, twd } = fmt;
  const num = (v, text) => el("td", { class: "num", "data-sort": v }, text);

  window.OA.section({
    id: "use-cases",
    async load({ stats }) {
      const s = await stats;
      const tbody = $("use-case-table").tBodies[0];
      if (!s.byScenario.length) return fill(tbody, window.OA.emptyRow(9, "此期間沒有通知 · no notifications in this period"));
      fill(
        tbody,
        ...s.byScenario.map((u) =>
          el(
            "tr",
            { "data-scenario": u.scenario },
            el("th", { scope: "row" }, u.scenario),
            num(u.total, int.format(u.total)),
            num(u.funnel.delivered, int.format(u.funnel.delivered)),
            num(u.funnel.smsSent, int.format(u.funnel.smsSent)),
            num(u.funnel.failed + u.funnel.undelivered, int.format(u.funnel.failed + u.funnel.undelivered)),
            num(u.fallback.rate, pct(u.fallback.rate)),
            num(u.costTwd.total, twd(u.costTwd.total)),
            num(u.allSmsCostTwd, twd(u.allSmsCostTwd)),
            num(u.savedTwd, twd(u.savedTwd)),
          ),
        ),
      );
    },
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("use-case-table").before(window.OA.csvButton($("use-case-table"), "use-cases"));
    window.OA.sortable($("use-case-table"));
  });
})();
