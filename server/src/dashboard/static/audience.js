// Binding and friends: the outcomes promised besides cheap delivery (新增好友, 降低封鎖) (GET /stats/audience).
"use strict";
(function () {
  const { $, el, fill, api, range, fmt, chart } = window.OA;
  const { int, pct } = fmt;

  window.OA.section({
    id: "audience",
    async load({ period }) {
      const a = await api(`/stats/audience?${range({ from: new Date(period.to.getTime() - Math.max(period.days, 7) * 86400000), to: period.to })}`);
      $("binding-rate").textContent = pct(a.binding.rate);
      $("binding-detail").textContent = `${int.format(a.binding.bound)} / ${int.format(a.binding.members)} 位會員已綁定 LINE · members bound to a LINE user`;
      chart($("chart-audience"), {
        xs: a.days.map((d) => Date.parse(`${d.date}T00:00:00+08:00`)),
        interval: "day",
        kind: "count",
        title: "好友 Friends per day",
        series: [
          { label: "新增好友 Gained", values: a.days.map((d) => d.gained) },
          { label: "封鎖 Blocked", values: a.days.map((d) => d.blocked) },
        ],
      });
      fill(
        $("audience-table").tBodies[0],
        ...a.days.map((d) =>
          el(
            "tr",
            { "data-date": d.date },
            el("th", { scope: "row" }, d.date),
            el("td", { class: "num" }, int.format(d.gained)),
            el("td", { class: "num" }, int.format(d.blocked)),
            el("td", { class: "num" }, int.format(d.friendsAtStart)),
            el("td", { class: "num" }, pct(d.blockRate)),
            el("td", { class: "num" }, int.format(d.bound)),
          ),
        ),
      );
    },
  });
  document.addEventListener("DOMContentLoaded", () => $("audience-table").before(window.OA.csvButton($("audience-table"), "friends")));
})();
