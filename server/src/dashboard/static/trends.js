// Trends: is the fallback rate rising? what did each day cost? (GET /stats/series, Asia/Taipei days or hours)
"use strict";
(function () {
  const { $, el, fill, api, range, fmt, chart } = window.OA;
  const { int, pct, twd } = fmt;

  function render(s) {
    const xs = s.points.map((p) => Date.parse(p.at));
    const pick = (f) => s.points.map(f);
    const common = { xs, interval: s.interval };
    chart($("chart-outcomes"), {
      ...common,
      kind: "count",
      title: "通知結果 Notices by outcome",
      series: [
        { label: "LINE 已送達 Delivered by LINE", values: pick((p) => p.funnel.delivered) },
        { label: "簡訊 SMS sent", values: pick((p) => p.funnel.smsSent) },
        { label: "失敗/未送達 Failed or undelivered", values: pick((p) => p.funnel.failed + p.funnel.undelivered) },
        { label: "處理中 In progress", values: pick((p) => p.funnel.pending) },
      ],
    });
    chart($("chart-fallback"), {
      ...common,
      kind: "pct",
      title: "簡訊備援率 Fallback rate",
      series: [{ label: "備援率 Fallback rate", values: pick((p) => p.fallback.rate) }],
    });
    chart($("chart-cost"), {
      ...common,
      kind: "twd",
      title: "費用 NT$ spent vs all-SMS",
      series: [
        { label: "實際花費 Spent", values: pick((p) => p.costTwd.total) },
        { label: "若全用簡訊 Had all gone by SMS", values: pick((p) => p.allSmsCostTwd) },
      ],
    });
    const at = (iso) => (s.interval === "hour" ? fmt.when(iso).slice(0, -3) : fmt.day.format(new Date(iso)));
    fill(
      $("trend-table").tBodies[0],
      ...s.points.map((p) =>
        el(
          "tr",
          { "data-at": p.at },
          el("th", { scope: "row" }, at(p.at)),
          el("td", { class: "num" }, int.format(p.total)),
          el("td", { class: "num" }, int.format(p.channels.push)),
          el("td", { class: "num" }, int.format(p.channels.pnp)),
          el("td", { class: "num" }, int.format(p.channels.sms)),
          el("td", { class: "num" }, int.format(p.funnel.delivered)),
          el("td", { class: "num" }, int.format(p.funnel.smsSent)),
          el("td", { class: "num" }, int.format(p.funnel.failed + p.funnel.undelivered)),
          el("td", { class: "num" }, pct(p.fallback.rate)),
          el("td", { class: "num" }, twd(p.costTwd.total)),
          el("td", { class: "num" }, twd(p.allSmsCostTwd)),
        ),
      ),
    );
  }

  window.OA.section({
    id: "trends",
    async load({ period }) {
      const interval = period.days === 1 ? "hour" : "day";
      render(await api(`/stats/series?${range(period)}&interval=${interval}`));
    },
  });
  document.addEventListener("DOMContentLoaded", () => $("trend-table").before(window.OA.csvButton($("trend-table"), "trends")));
})();
