import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { App } from "./App.tsx";
import type { LiffConfig } from "./api.ts";
import { CONSENT_VERSION } from "./consent.ts";
import { formatDate, formatTwd, initialLang } from "./i18n.ts";
import { initLiff, type Session } from "./liff.ts";
import { matchRoute } from "./routes.ts";
import { FakeApi } from "./testing.tsx";

const config: LiffConfig = { liffId: "1657000001-AbCdEfGh", apiBase: "/liff-api", sandbox: true, addFriendUrl: "https://line.me/R/ti/p/%40oanotify" };
const USER = "U0123456789abcdef0123456789abcdef";
let session: Session;
type MockApi = { set(f: (p: Record<string, unknown>) => Record<string, unknown>): void };
const mock = () => (session.liff as unknown as { $mock: MockApi }).$mock;
const setFriend = (friendFlag: boolean) => mock().set((p) => ({ ...p, getFriendship: { friendFlag } }));

beforeAll(async () => {
  // The app's own sandbox start-up with @line/liff-mock; only the console's id-token endpoint is answered here.
  const storage = new Map<string, string>();
  session = await initLiff(config, {
    search: `?sandboxUser=${USER}`,
    storage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => void storage.set(k, v) },
    href: "http://localhost/liff/settings",
    fetchImpl: (async (url: string) => {
      expect(url).toBe(`/sandbox/api/users/${USER}/id-token`);
      return new Response(JSON.stringify({ idToken: "header.payload.sig", userId: USER, displayName: "小明", friend: false }), { status: 200 });
    }) as typeof fetch,
  });
});
beforeEach(() => {
  // jsdom says navigator.language = "en-US"; these tests read the zh-TW text, as a Taiwanese phone shows it.
  localStorage.setItem("oa-notify.lang", "zh-TW");
});
afterEach(() => {
  cleanup();
  localStorage.clear();
});

const renderAt = (api: FakeApi, pathname: string, search = "") =>
  render(<App api={api} liff={session.liff} config={config} sandboxUser={USER} location={{ pathname, search }} />);

describe("sandbox start-up with @line/liff-mock", () => {
  it("logs the simulated user in with the console's ID token", async () => {
    expect(session.liff.isLoggedIn()).toBe(true);
    expect(session.liff.getIDToken()).toBe("header.payload.sig");
    expect(await session.liff.getFriendship()).toEqual({ friendFlag: false });
  });
});

describe("bind page", () => {
  it("shows the consent notice and refuses to bind by link until consent is ticked", async () => {
    const api = new FakeApi();
    const user = userEvent.setup();
    renderAt(api, "/liff/bind", "?token=good-link-token");
    expect(await screen.findByRole("heading", { level: 1, name: "綁定會員與 LINE" })).toBeTruthy();
    for (const h of ["誰會使用你的資料", "我們會保存什麼", "為什麼", "如何撤回"]) expect(screen.getByRole("heading", { name: h })).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "同意並綁定" }));
    expect((await screen.findByRole("alert")).textContent).toContain("請先勾選同意說明");
    expect(api.callsTo("bind")).toHaveLength(0);
    expect(document.activeElement).toBe(screen.getByRole("checkbox", { name: "我已閱讀並同意以上說明" }));

    await user.click(screen.getByRole("checkbox", { name: "我已閱讀並同意以上說明" }));
    await user.click(screen.getByRole("button", { name: "同意並綁定" }));
    expect(await screen.findByRole("heading", { name: /綁定完成/ })).toBeTruthy();
    expect(api.callsTo("bind")[0]!.args[0]).toEqual({ bindingToken: "good-link-token", consent: { version: CONSENT_VERSION, accepted: true } });
  });

  it("tells a used link apart", async () => {
    const api = new FakeApi();
    api.validLinkTokens.clear();
    const user = userEvent.setup();
    renderAt(api, "/liff/bind", "?token=used-token");
    await user.click(await screen.findByRole("checkbox"));
    await user.click(screen.getByRole("button", { name: "同意並綁定" }));
    expect((await screen.findByRole("alert")).textContent).toContain("已使用過或已過期");
  });

  it("binds with phone + code, showing attempts left after a wrong code", async () => {
    const api = new FakeApi();
    const user = userEvent.setup();
    renderAt(api, "/liff/bind");
    await user.type(await screen.findByLabelText("手機號碼"), "0912345678");
    await user.click(screen.getByRole("button", { name: "傳送驗證碼" }));
    expect(api.callsTo("requestOtp")[0]!.args).toEqual(["0912345678"]);
    const code = await screen.findByLabelText("6 位數驗證碼");
    await user.click(screen.getByRole("checkbox"));
    await user.type(code, "000000");
    await user.click(screen.getByRole("button", { name: "同意並綁定" }));
    expect((await screen.findByRole("alert")).textContent).toContain("還可以再試 4 次");
    await user.clear(code);
    await user.type(code, "123456");
    await user.click(screen.getByRole("button", { name: "同意並綁定" }));
    expect(await screen.findByRole("heading", { name: /綁定完成/ })).toBeTruthy();
    expect(api.callsTo("bind")[1]!.args[0]).toEqual({ phone: "0912345678", otp: "123456", consent: { version: CONSENT_VERSION, accepted: true } });
  });
});

describe("settings", () => {
  it("shows the binding and consent history, and withdraws after a confirm", async () => {
    const api = new FakeApi();
    await api.bind({ bindingToken: "good-link-token", consent: { version: CONSENT_VERSION, accepted: true } });
    const user = userEvent.setup();
    renderAt(api, "/liff/settings");
    expect(await screen.findByText("M-1001")).toBeTruthy();
    expect(screen.getByText("+886*****678")).toBeTruthy();
    const history = screen.getByRole("heading", { name: "同意紀錄" }).parentElement!;
    expect(within(history).getAllByRole("listitem")).toHaveLength(1);

    await user.click(screen.getByRole("button", { name: "解除綁定並撤回同意" }));
    const dialog = screen.getByRole("alertdialog", { name: "確定要解除綁定嗎？" });
    expect(api.callsTo("unbind")).toHaveLength(0);
    await waitFor(() => expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "確定解除" })));
    await user.click(within(dialog).getByRole("button", { name: "確定解除" }));
    expect((await screen.findByRole("status")).textContent).toContain("已解除綁定");
    expect(api.callsTo("unbind")).toHaveLength(1);
    expect(await screen.findByText("尚未綁定會員")).toBeTruthy();
    await waitFor(() => expect(within(screen.getByRole("heading", { name: "同意紀錄" }).parentElement!).getAllByRole("listitem")).toHaveLength(2));
  });

  it("cancel keeps the binding", async () => {
    const api = new FakeApi();
    await api.bind({ bindingToken: "good-link-token", consent: { version: CONSENT_VERSION, accepted: true } });
    const user = userEvent.setup();
    renderAt(api, "/liff/settings");
    await user.click(await screen.findByRole("button", { name: "解除綁定並撤回同意" }));
    await user.click(screen.getByRole("button", { name: "取消" }));
    expect(api.callsTo("unbind")).toHaveLength(0);
    expect(screen.getByText("M-1001")).toBeTruthy();
  });
});

describe("next-step pages", () => {
  // Owned by another member than the one the tests bind (M-1001): readable only with its view token.
  const bill = {
    memberId: "M-2002",
    billId: "B-2026-11",
    status: "unpaid",
    amountTwd: 1280,
    period: "2026-11",
    issuedAt: null,
    dueAt: "2026-12-05T15:59:59Z",
    paymentUrl: "https://pay.example.com/b",
    items: [{ name: "月租費", amountTwd: 1280 }],
  };

  it("shows a bill to a view-token holder: NT$, Taipei date, pay link, add-friend prompt (recorded) and a bind offer", async () => {
    setFriend(false);
    const api = new FakeApi();
    api.bills.set(bill.billId, bill);
    api.viewTokens.set("vt", `bill:${bill.billId}`);
    renderAt(api, `/liff/bills/${bill.billId}`, "?t=vt");
    expect(await screen.findByRole("heading", { level: 1, name: "帳單編號 B-2026-11" })).toBeTruthy();
    expect(screen.getAllByText("NT$1,280").length).toBeGreaterThan(0);
    // 15:59:59Z is 23:59:59 on 5 December in Taipei.
    expect(screen.getByText(/2026年12月5日/)).toBeTruthy();
    expect(screen.getByRole("link", { name: /前往繳費/ }).getAttribute("href")).toBe("https://pay.example.com/b");
    const friend = await screen.findByRole("link", { name: "加入好友" });
    expect(friend.getAttribute("href")).toBe(config.addFriendUrl);
    await waitFor(() => expect(api.callsTo("friendPrompt")).toHaveLength(1));
    expect(api.callsTo("friendPrompt")[0]!.args[0]).toEqual({ page: "bill", viewToken: "vt" });
    expect(screen.getByRole("link", { name: "前往綁定" })).toBeTruthy();
  });

  it("no add-friend prompt for a friend, no bind offer for the bound owner", async () => {
    setFriend(true);
    const api = new FakeApi();
    api.member = { memberId: "M-1001", phone: null, boundAt: null };
    api.orders.set("O-1", {
      memberId: "M-1001",
      orderId: "O-1",
      status: "shipped",
      items: [{ name: "保溫瓶", quantity: 2, unitPriceTwd: 450 }],
      amountTwd: 900,
      orderedAt: "2026-11-25T03:00:00Z",
      deliveryEta: null,
      trackingUrl: "https://t.example.com/1",
    });
    renderAt(api, "/liff/orders/O-1");
    expect(await screen.findByRole("heading", { level: 1, name: "訂單編號 O-1" })).toBeTruthy();
    expect(screen.getByText("已出貨")).toBeTruthy();
    expect(screen.getByText("保溫瓶")).toBeTruthy();
    await waitFor(() => expect(api.calls.some((c) => c.method === "order")).toBe(true));
    expect(screen.queryByRole("link", { name: "加入好友" })).toBeNull();
    expect(screen.queryByRole("link", { name: "前往綁定" })).toBeNull();
    expect(api.callsTo("friendPrompt")).toHaveLength(0);
  });

  it("someone else's bill is simply not found", async () => {
    const api = new FakeApi();
    api.bills.set(bill.billId, bill);
    renderAt(api, `/liff/bills/${bill.billId}`, "?t=other");
    expect((await screen.findByRole("alert")).textContent).toContain("找不到這筆資料");
    expect(screen.queryByText("NT$1,280")).toBeNull();
  });

  it("being bound is not enough: another member's bill, without its view token, is not found", async () => {
    const api = new FakeApi();
    api.member = { memberId: "M-1001", phone: null, boundAt: null };
    api.bills.set(bill.billId, bill);
    api.viewTokens.set("vt-order", "order:B-2026-11"); // a token for another kind of record does not open it either
    renderAt(api, `/liff/bills/${bill.billId}`, "?t=vt-order");
    expect((await screen.findByRole("alert")).textContent).toContain("找不到這筆資料");
    expect(screen.queryByText("NT$1,280")).toBeNull();
    await expect(api.bill(bill.billId, null)).rejects.toMatchObject({ status: 404 });
    await expect(api.bill(bill.billId, "vt-order")).rejects.toMatchObject({ status: 404 });
  });
});

describe("sandbox without a simulated user", () => {
  it("explains how to pick one instead of calling the API", async () => {
    const api = new FakeApi();
    render(<App api={api} liff={session.liff} config={config} sandboxUser={null} location={{ pathname: "/liff/settings", search: "" }} />);
    expect(await screen.findByRole("heading", { level: 1, name: "請選擇模擬的 LINE 用戶" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "開啟沙盒主控台" }).getAttribute("href")).toBe("/sandbox");
    expect(api.calls).toEqual([]);
  });
});

describe("routes", () => {
  it("maps LIFF paths (after liff.init moved us from liff.line.me) to pages", () => {
    expect(matchRoute("/liff/bills/B%2F1")).toEqual({ name: "bill", id: "B/1" });
    expect(matchRoute("/liff/orders/O-1/")).toEqual({ name: "order", id: "O-1" });
    expect(matchRoute("/liff/bind")).toEqual({ name: "bind" });
    expect(matchRoute("/liff/")).toEqual({ name: "home" });
    expect(matchRoute("/liff/bills/%E0%A4%A")).toEqual({ name: "not_found" });
    expect(matchRoute("/liff/admin")).toEqual({ name: "not_found" });
  });
});

describe("language", () => {
  it("zh-TW first; English when the phone is not Chinese or when toggled", async () => {
    expect(initialLang(null, "zh-TW")).toBe("zh-TW");
    expect(initialLang(null, "zh-Hant-TW")).toBe("zh-TW");
    expect(initialLang(null, "en-US")).toBe("en");
    expect(initialLang(null, undefined)).toBe("zh-TW");
    expect(initialLang("zh-TW", "en-US")).toBe("zh-TW");
    const api = new FakeApi();
    const user = userEvent.setup();
    renderAt(api, "/liff/settings");
    await user.click(await screen.findByRole("button", { name: "Switch to English" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Settings" })).toBeTruthy();
    expect(document.documentElement.lang).toBe("en");
    expect(localStorage.getItem("oa-notify.lang")).toBe("en");
  });

  it("formats NT$ and Taipei dates", () => {
    expect(formatTwd(1280, "zh-TW")).toBe("NT$1,280");
    expect(formatTwd(99.5, "en")).toBe("NT$99.50");
    expect(formatDate("2026-12-05T16:30:00Z", "en")).toContain("December 6, 2026");
  });
});
