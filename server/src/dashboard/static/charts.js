// Time-series charts with uPlot (served from /dashboard/vendor/, no inline script or style: uPlot sizes elements
// through the CSSOM, which the CSP allows). Every chart has a table beside it with the same numbers.
"use strict";
(function () {
  const { el, fill, fmt } = window.OA;
  const COLORS = ["#05793a", "#8a5a00", "#b42318", "#57606a", "#0550ae"];
  const DASH = [[], [6, 3], [2, 2], [10, 4], [4, 4]]; // not by colour alone

  /**
   * Draws (or redraws) a chart in `box`: `xs` are instants (ms), each series { label, values }; `kind` formats the
   * y axis: "count", "pct" (0–1), "twd". `interval` ("day" | "hour") formats the x axis in Taipei time, zh-TW.
   */
  function chart(box, { xs, series, kind, interval, title }) {
    box._plot?.destroy();
    const yFmt = (v) => (kind === "pct" ? `${Math.round(v * 1000) / 10}%` : kind === "twd" ? `NT$${fmt.int.format(v)}` : fmt.int.format(v));
    const xFmt = (ms) => (interval === "hour" ? `${fmt.hour.format(new Date(ms))}時` : fmt.monthDay.format(new Date(ms)));
    const step = Math.max(1, Math.ceil(xs.length / 10));
    const width = Math.max(280, box.clientWidth || 600);
    box.dataset.points = String(xs.length);
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", `${title}：${xs.length} 個資料點，數字見下表 · ${xs.length} points, numbers in the table below`);
    fill(box);
    if (typeof uPlot !== "function") {
      fill(box, el("p", { class: "help" }, "圖表無法載入，請看表格 · chart unavailable, see the table"));
      return;
    }
    const opts = {
      width,
      height: 220,
      title,
      scales: { x: { time: false } },
      legend: { live: false },
      cursor: { show: false },
      series: [
        { label: interval === "hour" ? "時間 Hour" : "日期 Date", value: (_u, v) => (v == null ? "–" : xFmt(v)) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          dash: DASH[i % DASH.length],
          width: 2,
          points: { show: true, size: 5 },
          value: (_u, v) => (v == null ? "–" : yFmt(v)),
        })),
      ],
      axes: [
        {
          label: interval === "hour" ? "台北時間（時）Taipei hour" : "台北日期 Taipei date",
          // A tick on every point; a label on every `step`-th, so they never overlap.
          splits: () => xs,
          values: (_u, splits) => splits.map((v, i) => (i % step === 0 ? xFmt(v) : "")),
          stroke: "#1f2328",
        },
        {
          label: kind === "pct" ? "比例 Rate" : kind === "twd" ? "新台幣 NT$" : "則數 Notices",
          values: (_u, splits) => splits.map(yFmt),
          stroke: "#1f2328",
          size: 70,
        },
      ],
    };
    box._plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], box);
  }
  window.OA.chart = chart;
})();
