// Operator dashboard bootstrap: the API key (sessionStorage only), the period, refresh and auto-refresh, and the
// "updated at" line. Each section is its own script (core.js has the helpers) that registers with OA.section().
"use strict";
(function () {
  const { $, api, getKey, setKey, setStatus, period, range, fmt } = window.OA;
  const REFRESH_MS = 60000;
  const chosenDays = () => Number(document.querySelector('input[name="period"]:checked').value);

  let loading = 0;
  async function loadAll() {
    if (!getKey()) return;
    const p = period(chosenDays());
    const mine = ++loading;
    $("stats").setAttribute("aria-busy", "true");
    $("range").textContent = `${fmt.day.format(p.from)} – ${fmt.day.format(new Date(p.to.getTime() - 1))}（台北時間 Asia/Taipei）`;
    // One /stats for the overview and the use cases.
    const stats = api(`/stats?${range(p)}&groupBy=scenario`);
    try {
      await stats; // first alone: a refused key is one 401, not one per section
    } catch (e) {
      if (mine === loading) {
        setStatus(e.message, true);
        $("stats").setAttribute("aria-busy", "false");
      }
      return;
    }
    const results = await Promise.allSettled(window.OA.sections.map((s) => s.load({ period: p, stats })));
    if (mine !== loading) return; // a newer request (another period) won
    $("stats").setAttribute("aria-busy", "false");
    const failed = results.map((r, i) => [r, window.OA.sections[i].id]).filter(([r]) => r.status === "rejected");
    if (failed.length) {
      setStatus(`${failed[0][0].reason.message}（${failed.map(([, id]) => id).join(", ")}）`, true);
      return;
    }
    const summary = results.map((r) => r.value).filter((v) => typeof v === "string");
    const at = new Date();
    $("updated").textContent = `已更新 Updated at ${fmt.when(at.toISOString())}`;
    $("updated").dataset.at = at.toISOString();
    setStatus(`已更新 Updated ${fmt.when(at.toISOString())}${summary.length ? ` · ${summary.join(" · ")}` : ""}`, false);
  }

  function showKeyState() {
    const has = Boolean(getKey());
    $("key-clear").hidden = !has;
    $("api-key").value = "";
    $("api-key").placeholder = has ? "已設定 · set" : "Bearer key";
    if (!has) setStatus("請輸入 API 金鑰以載入數據 · enter an API key to load the numbers", false);
  }
  window.OA.onKeyLost(showKeyState);

  let timer = null;
  function autoRefresh() {
    clearInterval(timer);
    timer = $("auto-refresh").checked ? setInterval(() => document.visibilityState === "visible" && loadAll(), REFRESH_MS) : null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const k = $("api-key").value.trim();
      if (!k) return;
      setKey(k);
      showKeyState();
      loadAll();
    });
    $("key-clear").addEventListener("click", () => {
      setKey(null);
      showKeyState();
    });
    for (const r of document.querySelectorAll('input[name="period"]')) r.addEventListener("change", loadAll);
    $("refresh").addEventListener("click", loadAll);
    $("auto-refresh").addEventListener("change", autoRefresh);
    showKeyState();
    autoRefresh();
    loadAll();
  });
})();
