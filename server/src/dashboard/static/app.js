// Operator dashboard: vanilla JS, no build step, text-only DOM writes (never innerHTML with data from the API).
"use strict";
(function () {
  const KEY = "oa-notify.apiKey";
  const DAY = 86400000;
  const TAIPEI = 8 * 3600000; // Asia/Taipei is UTC+8 all year (no DST)
  const $ = (id) => document.getElementById(id);
  const fmtTime = new Intl.DateTimeFormat("zh-TW", {
    timeZone: "Asia/Taipei",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
  const fmtDay = new Intl.DateTimeFormat("zh-TW", { timeZone: "Asia/Taipei", year: "numeric", month: "2-digit", day: "2-digit" });
  const int = new Intl.NumberFormat("zh-TW");
  const twd = new Intl.NumberFormat("zh-TW", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const pct = (x) => `${(Math.round(x * 1000) / 10).toFixed(1)}%`;
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

  function setStatus(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = isError ? "status err" : "status";
  }

  const getKey = () => sessionStorage.getItem(KEY);

  async function api(path) {
    const key = getKey();
    if (!key) throw new Error("請先輸入 API 金鑰 · enter the API key first");
    const res = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${key}`, accept: "application/json" }, cache: "no-store" });
    const body = await res.json().catch(() => null);
    if (res.status === 401) {
      sessionStorage.removeItem(KEY);
      showKeyState();
      throw new Error("API 金鑰無效 · the API key was refused (401)");
    }
    if (!res.ok) throw new Error(body?.error?.message || `HTTP ${res.status}`);
    return body;
  }

  // [from, to) for the last N Asia/Taipei calendar days, today included.
  function period(days) {
    const now = Date.now();
    const todayStart = Math.floor((now + TAIPEI) / DAY) * DAY - TAIPEI;
    return { from: new Date(todayStart - (days - 1) * DAY), to: new Date(todayStart + DAY) };
  }
  const chosenDays = () => Number(document.querySelector('input[name="period"]:checked').value);

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
    const tbody = $("funnel").tBodies[0];
    tbody.replaceChildren(
      ...rows.map(([key, text, n, tone, sub]) => {
        const share = base ? n / base : 0;
        const bar = el("span", { class: tone || null });
        bar.style.width = `${(share * 100).toFixed(1)}%`;
        return el(
          "tr",
          { "data-step": key, class: sub ? "sub" : null },
          el("th", { scope: "row" }, text),
          el("td", { class: "num" }, int.format(n)),
          el("td", { class: "num" }, base ? pct(share) : "–"),
          el("td", { class: "bar", "aria-hidden": "true" }, bar),
        );
      }),
    );
  }

  function renderChannels(s) {
    const tbody = $("channels").tBodies[0];
    const entries = Object.entries(s.byChannel).sort((a, b) => b[1].total - a[1].total);
    if (entries.length === 0) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: 3, class: "help" }, "此期間沒有通知 · no notifications in this period")));
    } else {
      tbody.replaceChildren(
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
    }
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
    $("cost").tBodies[0].replaceChildren(
      ...rows.map(([k, text, v, price]) =>
        el(
          "tr",
          { "data-cost": k },
          el("th", { scope: "row" }, text),
          el("td", { class: "help" }, `NT$${price} / 則 each`),
          el("td", { class: "num" }, `NT$${twd.format(v)}`),
        ),
      ),
      el(
        "tr",
        { "data-cost": "total" },
        el("th", { scope: "row" }, "合計 Total spent"),
        el("td"),
        el("td", { class: "num" }, el("strong", {}, `NT$${twd.format(c.total)}`)),
      ),
    );
    $("all-sms").textContent = `NT$${twd.format(s.allSmsCostTwd)}`;
    $("saved").textContent = `NT$${twd.format(s.savedTwd)}`;
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

  let loading = 0;
  async function loadStats() {
    if (!getKey()) return;
    const p = period(chosenDays());
    const mine = ++loading;
    $("stats").setAttribute("aria-busy", "true");
    $("range").textContent = `${fmtDay.format(p.from)} – ${fmtDay.format(new Date(p.to.getTime() - 1))}（台北時間 Asia/Taipei）`;
    try {
      const s = await api(`/stats?from=${encodeURIComponent(p.from.toISOString())}&to=${encodeURIComponent(p.to.toISOString())}`);
      if (mine !== loading) return; // a newer request (another period) won
      renderFunnel(s);
      renderChannels(s);
      renderCost(s);
      renderFriends(s);
      setStatus(`已更新 Updated ${when(new Date().toISOString())} · ${int.format(s.total)} 則通知 notifications`, false);
    } catch (e) {
      if (mine === loading) setStatus(e.message, true);
    } finally {
      if (mine === loading) $("stats").setAttribute("aria-busy", "false");
    }
  }

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
    box.replaceChildren(
      why ? el("p", { class: "why" }, el("strong", {}, "為什麼發簡訊 Why SMS: "), why) : null,
      el("p", { class: "rule" }, el("strong", {}, "路由決定 Route: "), String(route.rule || "–")),
      el("p", { class: "help" }, `費用 Cost: NT$${twd.format(n.costTwd || 0)}${n.lastError ? ` · 最後錯誤 last error: ${n.lastError}` : ""}`),
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

  async function lookupMember(memberId) {
    const out = $("member-result");
    out.replaceChildren(el("p", { class: "help" }, "查詢中… Loading…"));
    try {
      const r = await api(`/notifications?memberId=${encodeURIComponent(memberId)}`);
      if (r.notifications.length === 0) {
        out.replaceChildren(el("p", {}, `會員 ${memberId} 沒有通知紀錄 · no notifications for this member`));
        return;
      }
      const smsCount = r.notifications.filter((n) => n.smsSentAt).length;
      out.replaceChildren(
        el(
          "p",
          {},
          "會員 ",
          el("strong", {}, memberId),
          `：最近 ${r.notifications.length} 則，其中 ${smsCount} 則發了簡訊 · latest ${r.notifications.length}, ${smsCount} sent by SMS`,
        ),
        el(
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
            ...r.notifications.map((n) => {
              const box = el("div", { class: "detail" });
              const details = el("details", { "data-id": n.id }, el("summary", {}, "時間軸 Timeline"), box);
              details.addEventListener("toggle", async () => {
                if (!details.open || details.dataset.loaded) return;
                box.replaceChildren(el("p", { class: "help" }, "載入中… Loading…"));
                try {
                  renderTimeline(box, await api(`/notifications/${encodeURIComponent(n.id)}`));
                  details.dataset.loaded = "1";
                } catch (e) {
                  box.replaceChildren(el("p", { class: "err" }, e.message));
                }
              });
              return el(
                "tr",
                { "data-notification": n.id },
                el("td", {}, when(n.createdAt)),
                el("td", {}, `${n.scenario} · ${n.urgency}`),
                el("td", {}, label(CHANNELS, n.channel || "undecided")),
                el("td", {}, el("span", { class: `pill ${n.status}` }, label(STATES, n.status))),
                el("td", {}, n.smsSentAt ? `是 yes · ${when(n.smsSentAt)}` : "否 no"),
                el("td", {}, el("div", { class: "rule" }, n.rule || "–"), details),
              );
            }),
          ),
        ),
      );
    } catch (e) {
      out.replaceChildren(el("p", { class: "err" }, e.message));
    }
  }

  function showKeyState() {
    const has = Boolean(getKey());
    $("key-clear").hidden = !has;
    $("api-key").value = "";
    $("api-key").placeholder = has ? "已設定 · set" : "Bearer key";
    if (!has) setStatus("請輸入 API 金鑰以載入數據 · enter an API key to load the numbers", false);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const k = $("api-key").value.trim();
      if (!k) return;
      sessionStorage.setItem(KEY, k);
      showKeyState();
      loadStats();
    });
    $("key-clear").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      showKeyState();
    });
    for (const r of document.querySelectorAll('input[name="period"]')) r.addEventListener("change", loadStats);
    $("refresh").addEventListener("click", loadStats);
    $("member-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = $("member-id").value.trim();
      if (id) lookupMember(id);
    });
    showKeyState();
    loadStats();
  });
})();
