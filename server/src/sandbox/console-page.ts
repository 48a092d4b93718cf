/**
 * The console page: one server-rendered HTML document with a little vanilla JS that talks to /sandbox/api/*.
 * No build step and nothing shared with the LIFF app's bundle, so it works even before `pnpm build`.
 * All API URLs are absolute (`/sandbox/api/...`), so `/sandbox` and `/sandbox/` behave the same.
 */
export function consolePage(): string {
  return `<!doctype html>
<html lang="zh-Hant-TW">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>LINE 沙盒主控台 · Sandbox console · oa-notify</title>
<style>
  :root { --green:#06c755; --ink:#1f2328; --mute:#6a737d; --line:#e1e4e8; --bg:#f6f8fa; --warn:#b08800; --bad:#cf222e; }
  * { box-sizing: border-box; }
  body { margin:0; font: 14px/1.45 -apple-system, "PingFang TC", "Noto Sans TC", "Microsoft JhengHei", sans-serif; color:var(--ink); background:var(--bg); }
  header { background:var(--green); color:#fff; padding:10px 16px; display:flex; flex-wrap:wrap; gap:12px; align-items:baseline; }
  header h1 { font-size:18px; margin:0; }
  header .en { color:#e6ffef; font-size:13px; }
  header a { color:#fff; }
  header code { background:rgba(255,255,255,.2); color:#fff; }
  td code { font-size:11px; color:var(--mute); background:none; padding:0; }
  main { display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap:12px; padding:12px; }
  section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 12px; margin-bottom:12px; }
  h2 { font-size:15px; margin:0 0 8px; }
  h2 small, .en { color:var(--mute); font-weight:normal; }
  table { border-collapse:collapse; width:100%; font-size:13px; }
  th, td { border-bottom:1px solid var(--line); padding:4px 6px; text-align:left; vertical-align:top; }
  tr.selected { background:#eafbf0; }
  .pill { display:inline-block; padding:0 6px; border-radius:10px; font-size:12px; background:#eee; white-space:nowrap; }
  .yes { background:#d6f5e0; color:#116329; } .no { background:#ffe3e3; color:var(--bad); } .unset, .held { background:#fff3c4; color:var(--warn); }
  .dropped, .blocked, .not_friend { background:#ffe3e3; color:var(--bad); }
  .delivered { background:#d6f5e0; color:#116329; }
  button { font:inherit; font-size:12px; padding:2px 8px; margin:1px; border:1px solid #c9d1d9; background:#fff; border-radius:6px; cursor:pointer; }
  button.primary { background:var(--green); color:#fff; border-color:var(--green); }
  button:hover { filter:brightness(.95); }
  label { display:inline-flex; gap:4px; align-items:center; margin:2px 10px 2px 0; }
  input[type=text], input[type=tel], input[type=number], input[type=date], select { font:inherit; padding:2px 4px; }
  .msg { border:1px solid var(--line); border-radius:8px; padding:6px 8px; margin:6px 0; background:#fafbfc; }
  .msg .meta { color:var(--mute); font-size:12px; }
  .msg .text { white-space:pre-wrap; }
  .msg .alt { font-weight:600; }
  .msg .item { font-size:13px; } .msg .item.em { font-size:16px; font-weight:700; }
  .msg a.link { display:inline-block; margin:4px 4px 0 0; padding:2px 8px; border-radius:6px; background:var(--green); color:#fff; text-decoration:none; }
  .kv { color:var(--mute); }
  code { font-size:12px; background:#f0f0f0; padding:0 3px; border-radius:3px; word-break:break-all; }
  #toast { position:fixed; bottom:12px; right:12px; background:#333; color:#fff; padding:6px 12px; border-radius:6px; display:none; }
  .err { color:var(--bad); }
  .small { font-size:12px; }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>LINE 沙盒主控台 <span class="en">Sandbox console</span></h1>
  <span class="small">模擬 LINE 平台，不需要 LINE 帳號 · a LINE Platform emulator, no LINE account needed</span>
  <span class="small" id="info"></span>
</header>
<main>
<div>
  <section id="create">
    <h2>建立模擬使用者 <small>Create a simulated LINE user</small></h2>
    <form id="create-form">
      <label>手機 Phone <input id="create-phone" type="tel" placeholder="0912-345-678" size="14"></label>
      <label>名稱 Name <input id="create-name" type="text" placeholder="王小明" size="10"></label>
      <label><input id="create-friend" type="checkbox"> 好友 friend</label>
      <label><input id="create-blocked" type="checkbox"> 已封鎖 blocked</label>
      <label>通知型訊息同意 PNP consent
        <select id="create-consent"><option value="yes">同意 yes</option><option value="unset">未設定 unset</option><option value="no">拒絕 no</option></select></label>
      <label>最近簡訊驗證 Last SMS verification <input id="create-verified" type="date" title="空白 = 現在 · empty = now"></label>
      <label><input id="create-never" type="checkbox"> 從未驗證 never</label>
      <button class="primary" id="create-submit" type="submit">建立 Create</button>
      <span id="create-error" class="err"></span>
    </form>
  </section>
  <section id="users">
    <h2>模擬使用者 <small>Simulated users — LINE 端狀態 vs 產品看到的 (what LINE knows vs what our product sees)</small></h2>
    <table>
      <thead><tr>
        <th>名稱 Name</th><th>手機 Phone</th><th>LINE 好友 Friend</th><th>產品視角 Product</th><th>PNP 同意 Consent</th>
        <th>簡訊驗證 SMS verified</th><th>收件匣 Inbox</th><th>動作 Actions</th>
      </tr></thead>
      <tbody id="user-rows"><tr><td colspan="8">載入中… Loading…</td></tr></tbody>
    </table>
  </section>
  <section id="webhooks">
    <h2>Webhook 紀錄 <small>Webhook log (emulator → our /webhook)</small></h2>
    <table><thead><tr><th>時間 At</th><th>事件 Events</th><th>回應 Status</th></tr></thead><tbody id="webhook-rows"></tbody></table>
  </section>
</div>
<div>
  <section id="detail">
    <h2>使用者詳情 <small>User detail</small></h2>
    <div id="detail-body" class="kv">選取一位使用者 · Select a user</div>
  </section>
  <section id="faults">
    <h2>故障注入 <small>Fault injection</small></h2>
    <form id="faults-form">
      <div><label>限流 Rate limit 429 × <input id="f-rl-count" type="number" min="0" value="0" style="width:5em"></label>
        <label>Retry-After <input id="f-rl-after" type="number" min="0" value="1" style="width:4em"> s</label>
        <label>端點 endpoint <select id="f-rl-ep">${endpointOptions()}</select></label></div>
      <div><label><input id="f-quota" type="checkbox"> 每月額度用完 Monthly quota reached (push 429)</label></div>
      <div><label>伺服器錯誤 Server error 500 × <input id="f-500-count" type="number" min="0" value="0" style="width:5em"></label>
        <label>端點 endpoint <select id="f-500-ep">${endpointOptions()}</select></label></div>
      <div><label>延遲 Latency <input id="f-latency" type="number" min="0" value="0" style="width:6em"> ms</label></div>
      <div><label>斷線 Drop connection × <input id="f-drop-count" type="number" min="0" value="0" style="width:5em"></label>
        <label><input id="f-drop-after" type="checkbox"> 接受後才斷 after accepting</label>
        <label>端點 endpoint <select id="f-drop-ep">${endpointOptions()}</select></label></div>
      <button class="primary" type="submit">套用 Apply</button>
      <button type="button" id="faults-clear">清除 Clear</button>
      <button type="button" id="deliver-now">立即送出送達事件 Deliver now</button>
      <div class="small kv">目前 Current: <code id="faults-current">{}</code></div>
    </form>
  </section>
  <section id="sms-all">
    <h2>所有簡訊 <small>All SMS (including numbers without LINE)</small></h2>
    <div id="sms-all-body" class="kv">—</div>
  </section>
</div>
</main>
<div id="toast"></div>
<script>
(() => {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const taipeiDate = (iso) => (iso ? new Date(Date.parse(iso) + 8 * 3600000).toISOString().slice(0, 10) : "");
  const fmt = (iso) => (iso ? new Date(iso).toLocaleString("zh-TW", { hour12: false }) : "—");
  let selected = new URLSearchParams(location.search).get("user") || null;
  let users = [];
  // A half-filled form in the detail panel must survive the periodic refresh.
  let dirty = false;
  document.addEventListener("input", (ev) => { if (ev.target.closest("#detail-body form")) dirty = true; });
  document.addEventListener("change", (ev) => { if (ev.target.closest("#detail-body form")) dirty = true; });

  async function api(path, opts = {}) {
    const res = await fetch("/sandbox/api" + path, {
      method: opts.method || "GET",
      headers: opts.body ? { "content-type": "application/json" } : {},
      body: opts.body ? JSON.stringify(opts.body) : undefined,
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((json.error && json.error.message) || res.statusText);
    return json;
  }
  function toast(t) {
    const el = $("#toast"); el.textContent = t; el.style.display = "block";
    clearTimeout(toast.t); toast.t = setTimeout(() => (el.style.display = "none"), 2500);
  }
  const consentLabel = { yes: "同意 yes", no: "拒絕 no", unset: "未設定 unset" };
  const statusLabel = { delivered: "已送達 delivered", held: "保留中 held", dropped: "已丟棄 dropped (24h)", blocked: "已封鎖 blocked", not_friend: "非好友 not a friend", pending: "處理中 pending" };
  const kindLabel = { push: "推播 Push", pnp: "通知型訊息 PNP", pnp_template: "通知型訊息範本 Template PNP" };
  const pill = (cls, text) => '<span class="pill ' + esc(cls) + '">' + esc(text) + "</span>";

  function verifiedCell(u) {
    if (!u.lastSmsVerifiedAt) return pill("no", "從未 never");
    const days = Math.floor((Date.now() - Date.parse(u.lastSmsVerifiedAt)) / 86400000);
    return days > 180 ? pill("no", days + " 天前 days ago") : pill("yes", days + " 天前 days ago");
  }
  function friendCell(u) {
    if (u.blocked) return pill("blocked", "已封鎖 blocked");
    return u.friend ? pill("yes", "好友 friend") : pill("unset", "非好友 not friend");
  }
  function productCell(u) {
    const p = u.product;
    let h = p.known ? (p.friend ? pill("yes", "好友 friend") : pill("no", "非好友 not friend")) : pill("unset", "未知 unknown");
    if (p.boundMemberId) h += " " + pill("yes", "會員 " + p.boundMemberId);
    else if (p.phoneMemberIds.length) h += ' <span class="small kv">電話屬於 phone of ' + esc(p.phoneMemberIds.join(", ")) + "</span>";
    return h;
  }
  function actions(u) {
    const b = (a, label, cls) => '<button type="button" class="' + (cls || "") + '" data-action="' + a + '" data-user="' + esc(u.userId) + '">' + label + "</button>";
    let h = b("select", "詳情 Detail");
    if (u.blocked) h += b("unblock", "解除封鎖 Unblock");
    else if (!u.friend) h += b("follow", "加好友 Follow", "primary");
    if (!u.blocked) h += b("unfollow", "封鎖 Block (unfollow)");
    if (u.pnpConsent !== "yes") h += b("consent", "立即同意 Consent now");
    h += b("verify", "完成簡訊驗證 Verify now");
    return h;
  }
  function renderUsers() {
    const rows = users.map((u) =>
      '<tr data-user-row="' + esc(u.userId) + '" class="' + (u.userId === selected ? "selected" : "") + '">' +
      "<td>" + esc(u.displayName) + '<br><code class="small" title="' + esc(u.userId) + '">' + esc(u.userId.slice(0, 11)) + "…</code></td>" +
      "<td>" + esc(u.phone || "—") + "</td>" +
      '<td data-col="friend">' + friendCell(u) + "</td>" +
      '<td data-col="product">' + productCell(u) + "</td>" +
      "<td>" + pill(u.pnpConsent, consentLabel[u.pnpConsent]) + "</td>" +
      "<td>" + verifiedCell(u) + "</td>" +
      "<td>" + u.inboxCount + (u.heldCount ? " " + pill("held", u.heldCount + " 保留 held") : "") + (u.smsCount ? " · 簡訊 SMS " + u.smsCount : "") + "</td>" +
      "<td>" + actions(u) + "</td></tr>");
    $("#user-rows").innerHTML = rows.join("") || '<tr><td colspan="8">尚無使用者 No users yet</td></tr>';
  }
  function renderParts(parts) {
    return parts.map((p) => {
      if (p.type === "text") return '<div class="text">' + esc(p.text) + "</div>";
      if (p.type === "alt") return '<div class="alt">' + esc(p.text) + "</div>";
      if (p.type === "item") return '<div class="item' + (p.emphasized ? " em" : "") + '"><span class="kv">' + esc(p.key) + ":</span> " + esc(p.value) + "</div>";
      if (p.type === "link") return '<a class="link" target="_blank" rel="noopener" href="' + esc(p.href) + '" title="' + esc(p.original) + '">' + esc(p.label) + " ↗</a>";
      return '<div class="kv small">' + esc(p.text) + "</div>";
    }).join("");
  }
  async function renderDetail() {
    const u = users.find((x) => x.userId === selected);
    if (!u) { $("#detail-body").innerHTML = "選取一位使用者 · Select a user"; return; }
    const [inbox, sms] = await Promise.all([api("/users/" + u.userId + "/inbox"), api("/users/" + u.userId + "/sms")]);
    const items = inbox.items.map((i) =>
      '<div class="msg" data-kind="' + esc(i.kind) + '"><div class="meta">' + esc(kindLabel[i.kind] || i.kind) + " · " + fmt(i.at) + " " + pill(i.status, statusLabel[i.status] || i.status) +
      (i.deliveryTag ? ' · tag <code>' + esc(i.deliveryTag) + "</code>" : "") + "</div>" + renderParts(i.parts) + "</div>").join("") || '<div class="kv">（空）empty</div>';
    const smsItems = sms.items.map((s) =>
      '<div class="msg"><div class="meta">' + fmt(s.at) + " · ref <code>" + esc(s.reference) + '</code></div><div class="text">' + esc(s.text) + "</div>" +
      s.links.map((l) => '<a class="link" target="_blank" rel="noopener" href="' + esc(l.href) + '">開啟 Open ↗</a>').join("") + "</div>").join("") || '<div class="kv">（空）empty</div>';
    $("#detail-body").innerHTML =
      "<div><b>" + esc(u.displayName) + "</b> <code>" + esc(u.userId) + "</code></div>" +
      '<div class="small">以此使用者開啟 LIFF · Open the LIFF app as this user: <a id="liff-settings" target="_blank" href="' + esc(u.liff.settings) + '">設定 settings</a> · <a id="liff-bind" target="_blank" href="' + esc(u.liff.bind) + '">綁定 bind</a></div>' +
      '<form id="text-form" style="margin:6px 0"><input id="text-input" type="text" placeholder="傳訊息給官方帳號 Message the OA" size="30"> <button type="submit">傳送 Send</button></form>' +
      '<form id="edit-form" class="small" style="margin:6px 0">修改 Edit: ' +
      '<label>同意 consent <select id="edit-consent">' + ["yes", "unset", "no"].map((c) => '<option value="' + c + '"' + (c === u.pnpConsent ? " selected" : "") + ">" + esc(consentLabel[c]) + "</option>").join("") + "</select></label>" +
      '<label>簡訊驗證 verified <input id="edit-verified" type="date" value="' + esc(taipeiDate(u.lastSmsVerifiedAt)) + '"></label>' +
      '<label><input id="edit-blocked" type="checkbox"' + (u.blocked ? " checked" : "") + "> 封鎖 blocked (無事件 no event)</label>" +
      '<button type="submit">儲存 Save</button></form>' +
      "<h2>LINE 收件匣 <small>LINE inbox</small></h2>" + items +
      "<h2>簡訊收件匣 <small>SMS inbox</small></h2>" + smsItems;
    $("#edit-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = $("#edit-verified").value;
      dirty = false;
      const body = { pnpConsent: $("#edit-consent").value, blocked: $("#edit-blocked").checked };
      // Only a changed date is sent: re-saving the same day must not move the verification time.
      if (d !== taipeiDate(u.lastSmsVerifiedAt)) body.lastSmsVerifiedAt = d ? new Date(d + "T00:00:00+08:00").toISOString() : null;
      try { await api("/users/" + u.userId, { method: "PATCH", body }); toast("已儲存 Saved"); } catch (e) { toast("失敗 Failed: " + e.message); }
      await refresh();
    });
    $("#text-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = $("#text-input").value.trim();
      if (!text) return;
      await act("text", u.userId, { text });
    });
  }
  async function renderWebhooks() {
    const { webhooks } = await api("/webhooks");
    $("#webhook-rows").innerHTML = webhooks.slice(0, 30).map((w) =>
      "<tr><td>" + fmt(w.at) + "</td><td>" + w.events.map((e) => esc(e.type) + (e.userId ? " <code>" + esc(e.userId.slice(0, 9)) + "…</code>" : "") + (e.data ? " <code>" + esc(e.data.slice(0, 20)) + "</code>" : "")).join("<br>") +
      "</td><td>" + (w.status === null ? pill("no", w.error || "no response") : pill(w.status < 300 ? "yes" : "no", w.status)) + "</td></tr>").join("") || '<tr><td colspan="3">—</td></tr>';
  }
  async function renderSmsAll() {
    const { phones } = await api("/sms");
    $("#sms-all-body").innerHTML = phones.map((p) =>
      "<div><b>" + esc(p.phone) + "</b> " + (p.userId ? "" : pill("unset", "無 LINE 帳號 no LINE account")) +
      p.items.slice(0, 5).map((s) => '<div class="msg"><div class="meta">' + fmt(s.at) + '</div><div class="text">' + esc(s.text) + "</div></div>").join("") + "</div>").join("") || "—";
  }
  async function refresh(periodic) {
    try {
      users = (await api("/users")).users;
      renderUsers();
      await Promise.all([periodic && dirty ? null : renderDetail(), renderWebhooks(), renderSmsAll()]);
      const f = await api("/faults");
      $("#faults-current").textContent = JSON.stringify(f);
    } catch (e) { console.error(e); }
  }
  async function act(action, userId, body) {
    dirty = false;
    try {
      await api("/users/" + userId + "/" + action, { method: "POST", body: body || {} });
      toast("完成 Done: " + action);
    } catch (e) { toast("失敗 Failed: " + e.message); }
    await refresh();
  }
  document.addEventListener("click", async (ev) => {
    const t = ev.target.closest("button[data-action]");
    if (!t) return;
    const a = t.dataset.action, u = t.dataset.user;
    if (a === "select") { dirty = false; selected = u; history.replaceState(null, "", "?user=" + u); renderUsers(); await renderDetail(); return; }
    await act(a, u);
  });
  $("#create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#create-error").textContent = "";
    const body = { pnpConsent: $("#create-consent").value, friend: $("#create-friend").checked, blocked: $("#create-blocked").checked };
    const phone = $("#create-phone").value.trim(); if (phone) body.phone = phone;
    const name = $("#create-name").value.trim(); if (name) body.displayName = name;
    if ($("#create-never").checked) body.lastSmsVerifiedAt = null;
    else if ($("#create-verified").value) body.lastSmsVerifiedAt = new Date($("#create-verified").value + "T00:00:00+08:00").toISOString();
    try {
      const u = await api("/users", { method: "POST", body });
      selected = u.userId;
      $("#create-form").reset();
      toast("已建立 Created " + u.displayName);
    } catch (e) { $("#create-error").textContent = e.message; }
    await refresh();
  });
  $("#faults-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = (s) => Number($(s).value) || 0;
    const f = {};
    if (n("#f-rl-count")) f.rateLimit = { count: n("#f-rl-count"), retryAfterSeconds: n("#f-rl-after"), endpoint: $("#f-rl-ep").value };
    if ($("#f-quota").checked) f.monthlyQuota = { on: true };
    if (n("#f-500-count")) f.serverError = { count: n("#f-500-count"), endpoint: $("#f-500-ep").value };
    if (n("#f-latency")) f.latencyMs = n("#f-latency");
    if (n("#f-drop-count")) f.dropConnection = { count: n("#f-drop-count"), afterAccept: $("#f-drop-after").checked, endpoint: $("#f-drop-ep").value };
    try { await api("/faults", { method: "PUT", body: f }); toast("已套用 Applied"); } catch (e) { toast("失敗 Failed: " + e.message); }
    await refresh();
  });
  $("#faults-clear").addEventListener("click", async () => { await api("/faults", { method: "DELETE" }); toast("已清除 Cleared"); await refresh(); });
  $("#deliver-now").addEventListener("click", async () => { await api("/deliver", { method: "POST", body: {} }); toast("已送出 Delivered"); await refresh(); });
  api("/overview").then((o) => {
    $("#info").innerHTML = '模擬器 Emulator <code>' + esc(o.emulatorUrl) + '</code> · API key <code>' + esc(o.apiKey) + '</code> · channel secret <code>' + esc(o.channelSecret) + '</code> · <a href="/liff/">LIFF</a>';
  }).catch(() => {});
  refresh();
  setInterval(() => { if (!document.hidden && !document.activeElement?.matches("input, select")) refresh(true); }, 3000);
})();
</script>
</body>
</html>`;
}

function endpointOptions(): string {
  return ["*", "push", "pnp", "pnp_template", "followers"].map((e) => `<option value="${e}">${e === "*" ? "全部 all" : e}</option>`).join("");
}
