// "Why did member X get an SMS?", and every notice's timeline (also used by the failures section).
"use strict";
(function () {
  const { $, el, fill, api, fmt, label, CHANNELS, STATES } = window.OA;
  const { when, twd } = fmt;

  // The answer to "why an SMS?": the reason the worker recorded when it fell back, else the route rule itself.
  function whySms(n) {
    if (!n.smsSentAt && n.status !== "fallback_sms") return null;
    const has = (t) => t.detail?.reason;
    const fb =
      n.timeline.find((t) => t.state === "fallback_sms" && has(t)) || n.timeline.find((t) => t.state === "rerouted" && has(t) && t.detail.to === "sms");
    if (fb) return String(fb.detail.reason);
    return n.route?.rule ? String(n.route.rule) : null;
  }

  function renderTimeline(box, n) {
    const route = n.route || {};
    const inputs = Object.entries(route).filter(([k]) => k !== "rule");
    const why = whySms(n);
    // fill(), not replaceChildren(): a notice that did not go by SMS has no "why" line (it printed "null" before).
    fill(
      box,
      why ? el("p", { class: "why" }, el("strong", {}, "為什麼發簡訊 Why SMS: "), why) : null,
      el("p", { class: "rule" }, el("strong", {}, "路由決定 Route: "), String(route.rule || "–")),
      el("p", { class: "help" }, `費用 Cost: ${twd(n.costTwd || 0)}${n.lastError ? ` · 最後錯誤 last error: ${n.lastError}` : ""}`),
      el(
        "ol",
        { class: "timeline" },
        ...n.timeline.map((t) =>
          el(
            "li",
            {},
            `${when(t.at)} `,
            el("span", { class: `pill ${t.state}` }, label(STATES, t.state)),
            " ",
            t.detail ? el("code", {}, JSON.stringify(t.detail)) : null,
          ),
        ),
      ),
      inputs.length
        ? el(
            "details",
            { class: "inputs" },
            el("summary", {}, "路由輸入 Route inputs"),
            el("p", { class: "help" }, ...inputs.flatMap(([k, v]) => [el("code", {}, `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`), " "])),
          )
        : null,
    );
  }

  /** A <details> that loads the notice's timeline (GET /notifications/:id) when opened. */
  function timelineDetails(id) {
    const box = el("div", { class: "detail" });
    const details = el("details", { "data-id": id }, el("summary", {}, "時間軸 Timeline"), box);
    details.addEventListener("toggle", async () => {
      if (!details.open || details.dataset.loaded) return;
      fill(box, el("p", { class: "help" }, "載入中… Loading…"));
      try {
        renderTimeline(box, await api(`/notifications/${encodeURIComponent(id)}`));
        details.dataset.loaded = "1";
      } catch (e) {
        fill(box, el("p", { class: "err" }, e.message));
      }
    });
    return details;
  }
  window.OA.timelineDetails = timelineDetails;

  async function lookupMember(memberId) {
    const out = $("member-result");
    fill(out, el("p", { class: "help" }, "查詢中… Loading…"));
    try {
      const r = await api(`/notifications?memberId=${encodeURIComponent(memberId)}`);
      if (r.notifications.length === 0) {
        fill(out, el("p", {}, `會員 ${memberId} 沒有通知紀錄 · no notifications for this member`));
        return;
      }
      const smsCount = r.notifications.filter((n) => n.smsSentAt).length;
      const table = el(
        "table",
        { id: "member-table" },
        el("caption", { class: "sr-only" }, "會員的最近通知 The member's latest notifications"),
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            el("th", { scope: "col" }, "建立時間 Created"),
            el("th", { scope: "col" }, "情境 Scenario"),
            el("th", { scope: "col" }, "管道 Channel"),
            el("th", { scope: "col" }, "狀態 Status"),
            el("th", { scope: "col" }, "簡訊 SMS"),
            el("th", { scope: "col" }, "路由規則 Route rule / 時間軸 Timeline"),
          ),
        ),
        el(
          "tbody",
          {},
          ...r.notifications.map((n) =>
            el(
              "tr",
              { "data-notification": n.id },
              el("td", {}, when(n.createdAt)),
              el("td", {}, `${n.scenario} · ${n.urgency}`),
              el("td", {}, label(CHANNELS, n.channel || "undecided")),
              el("td", {}, el("span", { class: `pill ${n.status}` }, label(STATES, n.status))),
              el("td", {}, n.smsSentAt ? `是 yes · ${when(n.smsSentAt)}` : "否 no"),
              el("td", { "data-csv": n.rule || "" }, el("div", { class: "rule" }, n.rule || "–"), timelineDetails(n.id)),
            ),
          ),
        ),
      );
      fill(
        out,
        el(
          "p",
          {},
          "會員 ",
          el("strong", {}, memberId),
          `：最近 ${r.notifications.length} 則，其中 ${smsCount} 則發了簡訊 · latest ${r.notifications.length}, ${smsCount} sent by SMS`,
        ),
        window.OA.csvButton(table, `member-${memberId}`),
        table,
      );
    } catch (e) {
      fill(out, el("p", { class: "err" }, e.message));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("member-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = $("member-id").value.trim();
      if (id) lookupMember(id);
    });
  });
})();
