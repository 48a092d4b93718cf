// The scenario registry (GET /api/v1/scenarios): which use cases this account may send, which LINE approved for PNP,
// and the line that tells a reader of a late message to ignore it (docs/routing.md). Text only, never HTML from the API.
"use strict";
(function () {
  const { $, el, fill } = window.OA;

  window.OA.section({
    id: "scenarios",
    async load() {
      const { scenarios } = await window.OA.api("/scenarios");
      const tbody = $("scenarios-table").tBodies[0];
      if (!scenarios.length) return fill(tbody, window.OA.emptyRow(6, "沒有情境 · no scenarios"));
      fill(
        tbody,
        ...scenarios.map((s) =>
          el(
            "tr",
            { "data-scenario": s.scenario },
            el("td", { class: "num" }, s.useCaseNo === null ? "—" : String(s.useCaseNo)),
            el("th", { scope: "row" }, s.scenario),
            el("td", {}, s.title),
            el("td", {}, s.pnpApproved ? "可用 PNP · approved" : "僅推播/簡訊 · push/SMS only"),
            el("td", {}, s.defaultUrgency ?? "—"),
            el("td", {}, s.ignoreLine),
          ),
        ),
      );
    },
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("scenarios-table").before(window.OA.csvButton($("scenarios-table"), "scenarios"));
    window.OA.sortable($("scenarios-table"));
  });
})();
