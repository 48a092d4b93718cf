// The scenario registry on the dashboard (GET /api/v1/scenarios): its own small file beside app.js, with the same
// API key (sessionStorage) and the same rule: text only, never HTML from the API.
"use strict";
(() => {
  const KEY = "oa-notify.apiKey";
  const $ = (id) => document.getElementById(id);
  const cell = (text) => {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  };
  async function load() {
    const status = $("scenarios-status");
    const body = $("scenarios-body");
    const key = sessionStorage.getItem(KEY);
    if (!key) {
      status.textContent = "請先輸入 API 金鑰 · enter the API key first";
      return;
    }
    status.textContent = "載入中… · Loading…";
    const res = await fetch("/api/v1/scenarios", { headers: { authorization: `Bearer ${key}`, accept: "application/json" }, cache: "no-store" });
    if (!res.ok) {
      status.textContent = `無法載入 · could not load (${res.status})`;
      return;
    }
    const { scenarios } = await res.json();
    body.replaceChildren(
      ...scenarios.map((s) => {
        const tr = document.createElement("tr");
        tr.append(
          cell(s.useCaseNo === null ? "—" : String(s.useCaseNo)),
          cell(s.scenario),
          cell(s.title),
          cell(s.pnpApproved ? "可用 PNP · approved" : "僅推播/簡訊 · push/SMS only"),
          cell(s.defaultUrgency ?? "—"),
          cell(s.ignoreLine),
        );
        return tr;
      }),
    );
    status.textContent = `${scenarios.length} 個情境 · scenarios`;
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("scenarios-load")?.addEventListener("click", () => void load());
  });
})();
