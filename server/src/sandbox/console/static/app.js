// The sandbox console: vanilla JS, no build step, talking to /sandbox/api/*. Text-only DOM writes (never innerHTML
// with data), so whatever a message carries it shows as text, and the page runs under a CSP that allows no inline
// script or style (console.ts). All API URLs are absolute, so /sandbox and /sandbox/ behave the same.

(() => {
  const $ = (s) => document.querySelector(s);
  const taipeiDate = (iso) => (iso ? new Date(Date.parse(iso) + 8 * 3600000).toISOString().slice(0, 10) : "");
  const fmt = (iso) => (iso ? new Date(iso).toLocaleString("zh-TW", { hour12: false }) : "—");
  let selected = new URLSearchParams(location.search).get("user") || null;
  let users = [];
  // A half-filled form in the detail panel must survive the periodic refresh.
  let dirty = false;
  document.addEventListener("input", (ev) => {
    if (ev.target.closest("#detail-body form")) dirty = true;
  });
  document.addEventListener("change", (ev) => {
    if (ev.target.closest("#detail-body form")) dirty = true;
  });

  /** An element with attributes (false/null/undefined: left out) and children (nodes, strings, arrays of them). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    append(e, children);
    return e;
  }
  function append(parent, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(parent, c);
      else parent.append(c instanceof Node ? c : String(c));
    }
  }

  /**
   * A URI from a message becomes a link only for http(s), line: and tel: (relative paths on this server, such as
   * the rewritten /liff/… links, resolve to http(s)). Anything else (javascript:, data:, …) is shown as text.
   */
  const LINK_SCHEMES = ["http:", "https:", "line:", "tel:"];
  function linkable(href) {
    if (typeof href !== "string") return false;
    try {
      return LINK_SCHEMES.includes(new URL(href, document.baseURI).protocol);
    } catch {
      return false;
    }
  }
  const uriText = (uri, label) => el("span", { class: "uri-text", "data-unlinked": "" }, `${label}: ${uri}（未連結 not a link）`);
  const link = (href, label, title) =>
    linkable(href) ? el("a", { class: "link", target: "_blank", rel: "noopener noreferrer", href, title }, `${label} ↗`) : uriText(href, label);

  async function api(path, opts = {}) {
    const res = await fetch(`/sandbox/api${path}`, {
      method: opts.method || "GET",
      headers: opts.body ? { "content-type": "application/json" } : {},
      body: opts.body ? JSON.stringify(opts.body) : undefined,
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.error?.message || res.statusText);
    return json;
  }
  function toast(t) {
    const box = $("#toast");
    box.textContent = t;
    box.hidden = false;
    clearTimeout(toast.t);
    toast.t = setTimeout(() => (box.hidden = true), 2500);
  }
  const consentLabel = { yes: "同意 yes", no: "拒絕 no", unset: "未設定 unset" };
  const statusLabel = {
    delivered: "已送達 delivered",
    held: "保留中 held",
    dropped: "已丟棄 dropped (24h)",
    blocked: "已封鎖 blocked",
    not_friend: "非好友 not a friend",
    pending: "處理中 pending",
  };
  const kindLabel = { push: "推播 Push", pnp: "通知型訊息 PNP", pnp_template: "通知型訊息範本 Template PNP" };
  const pill = (cls, text) => el("span", { class: `pill ${cls}` }, String(text));

  function verifiedCell(u) {
    if (!u.lastSmsVerifiedAt) return pill("no", "從未 never");
    const days = Math.floor((Date.now() - Date.parse(u.lastSmsVerifiedAt)) / 86400000);
    return pill(days > 180 ? "no" : "yes", `${days} 天前 days ago`);
  }
  function friendCell(u) {
    if (u.blocked) return pill("blocked", "已封鎖 blocked");
    return u.friend ? pill("yes", "好友 friend") : pill("unset", "非好友 not friend");
  }
  function productCell(u) {
    const p = u.product;
    const out = [p.known ? (p.friend ? pill("yes", "好友 friend") : pill("no", "非好友 not friend")) : pill("unset", "未知 unknown")];
    if (p.boundMemberId) out.push(" ", pill("yes", `會員 ${p.boundMemberId}`));
    else if (p.phoneMemberIds.length) out.push(" ", el("span", { class: "small kv" }, `電話屬於 phone of ${p.phoneMemberIds.join(", ")}`));
    return out;
  }
  function actions(u) {
    const b = (action, label, cls) => el("button", { type: "button", class: cls, "data-action": action, "data-user": u.userId }, label);
    return [
      b("select", "詳情 Detail"),
      u.blocked ? b("unblock", "解除封鎖 Unblock") : !u.friend ? b("follow", "加好友 Follow", "primary") : null,
      !u.blocked ? b("unfollow", "封鎖 Block (unfollow)") : null,
      u.pnpConsent !== "yes" ? b("consent", "立即同意 Consent now") : null,
      b("verify", "完成簡訊驗證 Verify now"),
    ];
  }
  function renderUsers() {
    const rows = users.map((u) =>
      el(
        "tr",
        { "data-user-row": u.userId, class: u.userId === selected ? "selected" : "" },
        el("td", null, u.displayName, el("br"), el("code", { class: "small", title: u.userId }, `${u.userId.slice(0, 11)}…`)),
        el("td", null, u.phone || "—"),
        el("td", { "data-col": "friend" }, friendCell(u)),
        el("td", { "data-col": "product" }, productCell(u)),
        el("td", null, pill(u.pnpConsent, consentLabel[u.pnpConsent] || u.pnpConsent)),
        el("td", null, verifiedCell(u)),
        el(
          "td",
          null,
          String(u.inboxCount),
          u.heldCount ? [" ", pill("held", `${u.heldCount} 保留 held`)] : null,
          u.smsCount ? ` · 簡訊 SMS ${u.smsCount}` : null,
        ),
        el("td", null, actions(u)),
      ),
    );
    $("#user-rows").replaceChildren(...(rows.length ? rows : [el("tr", null, el("td", { colspan: 8 }, "尚無使用者 No users yet"))]));
  }
  function renderParts(parts) {
    return parts.map((p) => {
      if (p.type === "text") return el("div", { class: "text" }, p.text);
      if (p.type === "alt") return el("div", { class: "alt" }, p.text);
      if (p.type === "item") return el("div", { class: p.emphasized ? "item em" : "item" }, el("span", { class: "kv" }, `${p.key}:`), " ", p.value);
      if (p.type === "link") return link(p.href, p.label, p.original);
      if (p.type === "uri_text") return uriText(p.uri, p.label); // the server found it not linkable
      return el("div", { class: "kv small" }, p.text);
    });
  }
  const empty = () => el("div", { class: "kv" }, "（空）empty");
  async function renderDetail() {
    const u = users.find((x) => x.userId === selected);
    if (!u) {
      $("#detail-body").replaceChildren("選取一位使用者 · Select a user");
      return;
    }
    const [inbox, sms] = await Promise.all([api(`/users/${u.userId}/inbox`), api(`/users/${u.userId}/sms`)]);
    const items = inbox.items.map((i) =>
      el(
        "div",
        { class: "msg", "data-kind": i.kind },
        el(
          "div",
          { class: "meta" },
          `${kindLabel[i.kind] || i.kind} · ${fmt(i.at)} `,
          pill(i.status, statusLabel[i.status] || i.status),
          i.deliveryTag ? [" · tag ", el("code", null, i.deliveryTag)] : null,
        ),
        renderParts(i.parts),
      ),
    );
    const smsItems = sms.items.map((s) =>
      el(
        "div",
        { class: "msg" },
        el("div", { class: "meta" }, `${fmt(s.at)} · ref `, el("code", null, s.reference)),
        el("div", { class: "text" }, s.text),
        s.links.map((l) => link(l.href, "開啟 Open", l.original)),
      ),
    );
    const consent = el(
      "select",
      { id: "edit-consent" },
      ["yes", "unset", "no"].map((c) => el("option", { value: c, selected: c === u.pnpConsent }, consentLabel[c])),
    );
    const editForm = el(
      "form",
      { id: "edit-form", class: "small inline" },
      "修改 Edit: ",
      el("label", null, "同意 consent ", consent),
      el("label", null, "簡訊驗證 verified ", el("input", { id: "edit-verified", type: "date", value: taipeiDate(u.lastSmsVerifiedAt) })),
      el("label", null, el("input", { id: "edit-blocked", type: "checkbox", checked: u.blocked }), " 封鎖 blocked (無事件 no event)"),
      el("button", { type: "submit" }, "儲存 Save"),
    );
    const textForm = el(
      "form",
      { id: "text-form", class: "inline" },
      el("input", {
        id: "text-input",
        type: "text",
        placeholder: "傳訊息給官方帳號 Message the OA",
        size: 30,
        "aria-label": "傳訊息給官方帳號 Message the OA",
      }),
      " ",
      el("button", { type: "submit" }, "傳送 Send"),
    );
    $("#detail-body").replaceChildren(
      el("div", null, el("b", null, u.displayName), " ", el("code", null, u.userId)),
      el(
        "div",
        { class: "small" },
        "以此使用者開啟 LIFF · Open the LIFF app as this user: ",
        el("a", { id: "liff-settings", target: "_blank", href: u.liff.settings }, "設定 settings"),
        " · ",
        el("a", { id: "liff-bind", target: "_blank", href: u.liff.bind }, "綁定 bind"),
      ),
      textForm,
      editForm,
      el("h2", null, "LINE 收件匣 ", el("small", null, "LINE inbox")),
      ...(items.length ? items : [empty()]),
      el("h2", null, "簡訊收件匣 ", el("small", null, "SMS inbox")),
      ...(smsItems.length ? smsItems : [empty()]),
    );
    editForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = $("#edit-verified").value;
      dirty = false;
      const body = { pnpConsent: $("#edit-consent").value, blocked: $("#edit-blocked").checked };
      // Only a changed date is sent: re-saving the same day must not move the verification time.
      if (d !== taipeiDate(u.lastSmsVerifiedAt)) body.lastSmsVerifiedAt = d ? new Date(`${d}T00:00:00+08:00`).toISOString() : null;
      try {
        await api(`/users/${u.userId}`, { method: "PATCH", body });
        toast("已儲存 Saved");
      } catch (e) {
        toast(`失敗 Failed: ${e.message}`);
      }
      await refresh();
    });
    textForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = $("#text-input").value.trim();
      if (!text) return;
      await act("text", u.userId, { text });
    });
  }
  async function renderWebhooks() {
    const { webhooks } = await api("/webhooks");
    const rows = webhooks.slice(0, 30).map((w) =>
      el(
        "tr",
        null,
        el("td", null, fmt(w.at)),
        el(
          "td",
          null,
          w.events.map((e, i) => [
            i ? el("br") : null,
            e.type,
            e.userId ? [" ", el("code", null, `${e.userId.slice(0, 9)}…`)] : null,
            e.data ? [" ", el("code", null, e.data.slice(0, 20))] : null,
          ]),
        ),
        el("td", null, w.status === null ? pill("no", w.error || "no response") : pill(w.status < 300 ? "yes" : "no", w.status)),
      ),
    );
    $("#webhook-rows").replaceChildren(...(rows.length ? rows : [el("tr", null, el("td", { colspan: 3 }, "—"))]));
  }
  async function renderSmsAll() {
    const { phones } = await api("/sms");
    const blocks = phones.map((p) =>
      el(
        "div",
        null,
        el("b", null, p.phone),
        " ",
        p.userId ? null : pill("unset", "無 LINE 帳號 no LINE account"),
        p.items.slice(0, 5).map((s) => el("div", { class: "msg" }, el("div", { class: "meta" }, fmt(s.at)), el("div", { class: "text" }, s.text))),
      ),
    );
    $("#sms-all-body").replaceChildren(...(blocks.length ? blocks : ["—"]));
  }
  async function refresh(periodic) {
    try {
      users = (await api("/users")).users;
      renderUsers();
      await Promise.all([periodic && dirty ? null : renderDetail(), renderWebhooks(), renderSmsAll()]);
      const f = await api("/faults");
      $("#faults-current").textContent = JSON.stringify(f);
    } catch (e) {
      console.error(e);
    }
  }
  async function act(action, userId, body) {
    dirty = false;
    try {
      await api(`/users/${userId}/${action}`, { method: "POST", body: body || {} });
      toast(`完成 Done: ${action}`);
    } catch (e) {
      toast(`失敗 Failed: ${e.message}`);
    }
    await refresh();
  }
  document.addEventListener("click", async (ev) => {
    const t = ev.target.closest("button[data-action]");
    if (!t) return;
    const a = t.dataset.action,
      u = t.dataset.user;
    if (a === "select") {
      dirty = false;
      selected = u;
      history.replaceState(null, "", `?user=${encodeURIComponent(u)}`);
      renderUsers();
      await renderDetail();
      return;
    }
    await act(a, u);
  });
  $("#create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#create-error").textContent = "";
    const body = { pnpConsent: $("#create-consent").value, friend: $("#create-friend").checked, blocked: $("#create-blocked").checked };
    const phone = $("#create-phone").value.trim();
    if (phone) body.phone = phone;
    const name = $("#create-name").value.trim();
    if (name) body.displayName = name;
    if ($("#create-never").checked) body.lastSmsVerifiedAt = null;
    else if ($("#create-verified").value) body.lastSmsVerifiedAt = new Date(`${$("#create-verified").value}T00:00:00+08:00`).toISOString();
    try {
      const u = await api("/users", { method: "POST", body });
      selected = u.userId;
      $("#create-form").reset();
      toast(`已建立 Created ${u.displayName}`);
    } catch (e) {
      $("#create-error").textContent = e.message;
    }
    await refresh();
  });
  for (const s of document.querySelectorAll("select.endpoints")) {
    s.replaceChildren(...["*", "push", "pnp", "pnp_template", "followers"].map((e) => el("option", { value: e }, e === "*" ? "全部 all" : e)));
  }
  $("#faults-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = (s) => Number($(s).value) || 0;
    const f = {};
    if (n("#f-rl-count")) f.rateLimit = { count: n("#f-rl-count"), retryAfterSeconds: n("#f-rl-after"), endpoint: $("#f-rl-ep").value };
    if ($("#f-quota").checked) f.monthlyQuota = { on: true };
    if (n("#f-500-count")) f.serverError = { count: n("#f-500-count"), endpoint: $("#f-500-ep").value };
    if (n("#f-latency")) f.latencyMs = n("#f-latency");
    if (n("#f-drop-count")) f.dropConnection = { count: n("#f-drop-count"), afterAccept: $("#f-drop-after").checked, endpoint: $("#f-drop-ep").value };
    try {
      await api("/faults", { method: "PUT", body: f });
      toast("已套用 Applied");
    } catch (e) {
      toast(`失敗 Failed: ${e.message}`);
    }
    await refresh();
  });
  $("#faults-clear").addEventListener("click", async () => {
    await api("/faults", { method: "DELETE" });
    toast("已清除 Cleared");
    await refresh();
  });
  $("#deliver-now").addEventListener("click", async () => {
    await api("/deliver", { method: "POST", body: {} });
    toast("已送出 Delivered");
    await refresh();
  });
  api("/overview")
    .then((o) => {
      $("#info").replaceChildren(
        "模擬器 Emulator ",
        el("code", null, o.emulatorUrl),
        " · API key ",
        el("code", null, o.apiKey),
        " · channel secret ",
        el("code", null, o.channelSecret),
        " · ",
        el("a", { href: "/liff/" }, "LIFF"),
      );
    })
    .catch(() => {});
  refresh();
  setInterval(() => {
    if (!document.hidden && !document.activeElement?.matches("input, select")) refresh(true);
  }, 3000);
})();
