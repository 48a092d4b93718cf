// "How did the period go": the funnel, the channel split, NT$ against all-SMS, friends (GET /stats).
"use strict";
(function () {
  const { $, el, fill, fmt, label, CHANNELS, STATES } = window.OA;
  const { int, pct, twd } = fmt;

  function renderFunnel(s) {
    const f = s.funnel;
    const base = f.accepted || 0;
    const rows = [
      ["accepted", "已受理 Accepted", f.accepted, "", false],
      ["sent", "已送出 Sent", f.sent, "", false],
      ["delivered", "LINE 已送達 Delivered by LINE", f.delivered, "", true],
      ["smsSent", "簡訊備援/簡訊 Sent by SMS", f.smsSent, "warn", true],
      ["undelivered", "未送達 Undelivered (24 h)", f.undelivered, "bad", true],
      ["failed", "失敗/無法投遞 Failed", f.failed, "bad", true],
      ["cancelled", "已取消 Cancelled", f.cancelled, "mute", true],
      ["pending", "處理中 In progress", f.pending, "mute", true],
    ];
    fill(
      $("funnel").tBodies[0],
      ...rows.map(([key, text, n, tone, sub]) => {
        const share = base ? n / base : 0;
        const bar = el("span", { class: tone || null });
        bar.style.width = `${(share * 100).toFixed(1)}%`; // CSSOM, which the CSP allows (no style attribute)
        return el(
          "tr",
          { "data-step": key, class: sub ? "sub" : null },
          el("th", { scope: "row" }, text),
          el("td", { class: "num" }, int.format(n)),
          el("td", { class: "num" }, base ? pct(share) : "–"),
          el("td", { class: "bar", "aria-hidden": "true", "data-csv": "" }, bar),
        );
      }),
    );
  }

  function renderChannels(s) {
    const tbody = $("channels").tBodies[0];
    const entries = Object.entries(s.byChannel).sort((a, b) => b[1].total - a[1].total);
    if (entries.length === 0) fill(tbody, el("tr", {}, el("td", { colspan: 3, class: "help" }, "此期間沒有通知 · no notifications in this period")));
    else
      fill(
        tbody,
        ...entries.map(([ch, v]) =>
          el(
            "tr",
            { "data-channel": ch },
            el("th", { scope: "row" }, label(CHANNELS, ch)),
            el("td", { class: "num" }, int.format(v.total) + (s.total ? ` (${pct(v.total / s.total)})` : "")),
            el(
              "td",
              {},
              ...Object.entries(v.states)
                .map(([st, n]) => el("span", { class: `pill ${st}` }, `${label(STATES, st)} ${int.format(n)}`))
                .flatMap((p) => [p, " "]),
            ),
          ),
        ),
      );
    $("fallback-rate").textContent = pct(s.fallback.rate);
    $("fallback-detail").textContent =
      `${int.format(s.fallback.fellBackToSms)} / ${int.format(s.fallback.lineRouted)} 則 LINE 路由改發簡訊 · LINE-routed notices that also went by SMS`;
    $("late").textContent = int.format(s.deliveredLate);
  }

  function renderCost(s) {
    const c = s.costTwd;
    const rows = [
      ["push", "LINE 推播 push", c.push, s.prices.push],
      ["pnp", "通知型訊息 PNP", c.pnp, s.prices.pnp],
      ["sms", "簡訊 SMS", c.sms, s.prices.sms],
    ];
    fill(
      $("cost").tBodies[0],
      ...rows.map(([k, text, v, price]) =>
        el(
          "tr",
          { "data-cost": k },
          el("th", { scope: "row" }, text),
          el("td", { class: "help" }, `NT$${price} / 則 each`),
          el("td", { class: "num" }, twd(v)),
        ),
      ),
      el("tr", { "data-cost": "total" }, el("th", { scope: "row" }, "合計 Total spent"), el("td"), el("td", { class: "num" }, el("strong", {}, twd(c.total)))),
    );
    $("all-sms").textContent = twd(s.allSmsCostTwd);
    $("saved").textContent = twd(s.savedTwd);
    $("saved").className = s.savedTwd >= 0 ? "good" : "err";
    $("saved-pct").textContent = s.allSmsCostTwd > 0 ? `省下 ${pct(s.savedTwd / s.allSmsCostTwd)} · saved vs all-SMS` : "";
  }

  function renderFriends(s) {
    const f = s.friends || { total: 0, gainedInPeriod: 0, lostInPeriod: 0, conversionsFromPrompts: 0 };
    $("friends-gained").textContent = int.format(f.gainedInPeriod);
    $("friends-conversions").textContent = int.format(f.conversionsFromPrompts);
    $("friends-lost").textContent = int.format(f.lostInPeriod);
    $("friends-total").textContent = int.format(f.total);
  }

  window.OA.section({
    id: "overview",
    async load({ stats }) {
      const s = await stats;
      renderFunnel(s);
      renderChannels(s);
      renderCost(s);
      renderFriends(s);
      return `${int.format(s.total)} 則通知 notifications`;
    },
  });
  document.addEventListener("DOMContentLoaded", () => {
    for (const [id, name] of [
      ["funnel", "funnel"],
      ["channels", "channels"],
      ["cost", "cost"],
    ])
      $(id).before(window.OA.csvButton($(id), name));
  });
})();
