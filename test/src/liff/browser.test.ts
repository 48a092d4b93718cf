import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeSerious } from "../helpers/axe.ts";
import { artifactsDir, collectProblems, hasChromium, launchChromium, noteSkipped, type SandboxStack, startSandboxStack } from "../helpers/browser.ts";
import type { ServerProcess } from "../helpers/process.ts";
import { randomPhone, rid } from "./helpers.ts";

/**
 * The built LIFF app in Debian's chromium, served by the real server (`server/src/main.ts`) in sandbox mode: the
 * LINE emulator mints the ID tokens, the app runs on @line/liff-mock as the chosen simulated user, the notifier's
 * worker sends the notice whose button we follow.
 */
const liffDir = fileURLToPath(new URL("../../../liff-app", import.meta.url));
const artifacts = join(artifactsDir, "liff");
const API_KEY = "sandbox-key";
noteSkipped("LIFF browser test");

let stack: SandboxStack;
let srv: ServerProcess;
let browser: Browser;
let liffId: string;

beforeAll(async () => {
  if (!hasChromium) return;
  // The root `pnpm test` builds first; a single-file run builds here if it has to.
  if (!existsSync(join(liffDir, "dist/index.html"))) execFileSync(join(liffDir, "node_modules/.bin/vite"), ["build"], { cwd: liffDir, stdio: "ignore" });
  mkdirSync(artifacts, { recursive: true });
  stack = await startSandboxStack("liff-browser");
  srv = stack.srv;
  liffId = (await (await fetch(`${srv.url}/liff-config`)).json()).liffId;
  browser = await launchChromium();
}); // the global hook timeout (300 s) allows for a cold server start on a busy 2-core machine

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A simulated LINE user (the emulator) whose phone is a member's (our backend). */
async function simUserAndMember(opts: { friend?: boolean } = {}) {
  const phone = randomPhone();
  const u = await api("POST", "/sandbox/api/users", { phone, displayName: "王小明", friend: opts.friend ?? false });
  expect(u.status).toBe(201);
  const memberId = rid("M");
  expect((await api("PUT", `/api/v1/members/${memberId}`, { phone, name: "王小明" })).status).toBe(201);
  return { userId: u.body.userId as string, memberId, phone };
}

/** A phone-sized page; the browser's own time zone is not Taipei, so dates prove the Asia/Taipei formatting. */
async function phonePage(locale = "zh-TW"): Promise<{ ctx: BrowserContext; page: Page; problems: string[] }> {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    locale,
    timezoneId: "America/New_York",
    isMobile: true,
    hasTouch: true,
  });
  const page = await ctx.newPage();
  return { ctx, page, problems: collectProblems(page) };
}

const liffPath = (url: string) => url.replace(`https://liff.line.me/${liffId}`, "/liff");
/** Every page shown is also checked with axe-core; the last test asserts that none had a serious violation. */
const axeFindings: string[] = [];
let axeChecked = 0;
const shot = async (page: Page, name: string) => {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  axeFindings.push(...(await axeSerious(page)).map((f) => `${name}: ${f}`));
  axeChecked++;
};

/** Binds through the LIFF API with the emulator's ID token for that user (what the bind page does). */
async function bindViaApi(who: { userId: string; memberId: string }) {
  const link = await api("POST", `/api/v1/members/${who.memberId}/binding-links`);
  const { idToken } = (await api("GET", `/sandbox/api/users/${who.userId}/id-token`)).body;
  const res = await fetch(`${srv.url}/liff-api/bindings`, {
    method: "POST",
    headers: { authorization: `Bearer ${idToken}`, "content-type": "application/json" },
    body: JSON.stringify({ bindingToken: new URL(link.body.url).searchParams.get("token"), consent: { version: "2026-11-26.v1", accepted: true } }),
  });
  expect(res.status).toBe(201);
}

describe.skipIf(!hasChromium)("LIFF app in chromium (sandbox)", () => {
  it("binds by link after the consent notice", async () => {
    const who = await simUserAndMember();
    const link = await api("POST", `/api/v1/members/${who.memberId}/binding-links`);
    expect(link.status).toBe(201);
    const { ctx, page, problems } = await phonePage();
    await page.goto(`${srv.url}${liffPath(link.body.url)}&sandboxUser=${who.userId}`);
    await page.getByRole("heading", { level: 1, name: "綁定會員與 LINE" }).waitFor();
    await page.getByRole("heading", { name: "如何撤回" }).waitFor();
    await shot(page, "01-bind-consent");

    // Without consent nothing is sent.
    await page.getByRole("button", { name: "同意並綁定" }).click();
    await page.getByRole("alert").filter({ hasText: "請先勾選同意說明" }).waitFor();
    expect((await api("GET", `/api/v1/members/${who.memberId}`)).body.lineUserId).toBeNull();
    await shot(page, "02-bind-needs-consent");

    await page.getByLabel("我已閱讀並同意以上說明").check();
    await page.getByRole("button", { name: "同意並綁定" }).click();
    await page.getByRole("heading", { name: /綁定完成/ }).waitFor();
    await shot(page, "03-bind-done");
    const m = await api("GET", `/api/v1/members/${who.memberId}`);
    expect(m.body.lineUserId).toBe(who.userId);
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it("opens a bill from the notification's button: NT$, Taipei date, add-friend prompt, bind offer; the notice is seen", async () => {
    // A member not yet bound: the notice goes by PNP to the LINE account with that phone.
    const who = await simUserAndMember();
    const billId = rid("B");
    expect(
      (
        await api("PUT", `/api/v1/bills/${billId}`, {
          memberId: who.memberId,
          status: "unpaid",
          amountTwd: 1280,
          period: "2026 年 11 月",
          issuedAt: "2026-11-20T02:00:00Z",
          dueAt: "2026-12-05T15:59:59Z",
          paymentUrl: "https://pay.example.com/bills/1",
          items: [
            { name: "月租費", amountTwd: 999 },
            { name: "加值服務", amountTwd: 281 },
          ],
        })
      ).status,
    ).toBe(201);
    const sent = await api("POST", "/api/v1/notifications", {
      memberId: who.memberId,
      scenario: "billing",
      urgency: "day",
      text: "您的 11 月帳單已出帳，金額 NT$1,280。",
      nextStep: { type: "bill", id: billId },
    });
    expect(sent.status).toBe(202);

    // The button as the console renders it from the emulator's inbox (liff.line.me → our /liff, as this user).
    let href: string | undefined;
    for (let i = 0; i < 300 && !href; i++) {
      const inbox = await api("GET", `/sandbox/api/users/${who.userId}/inbox`);
      href = (inbox.body.items as { parts: { type: string; href?: string }[] }[])
        .flatMap((it) => it.parts)
        .find((p) => p.type === "link" && p.href?.includes(`/liff/bills/${billId}`))?.href;
      if (!href) await new Promise((r) => setTimeout(r, 200));
    }
    expect(href, "the notice reached the simulated user's LINE inbox").toBeTruthy();

    const { ctx, page, problems } = await phonePage();
    await page.goto(`${srv.url}${href}`);
    await page.getByRole("heading", { level: 1, name: `帳單編號 ${billId}` }).waitFor();
    await page.getByRole("link", { name: "加入好友" }).waitFor();
    const body = await page.locator("main").innerText();
    expect(body).toContain("NT$1,280");
    expect(body).toContain("2026年12月5日"); // 15:59:59Z is still 5 December in Taipei (and in New York it is 10:59)
    expect(body).toContain("前往綁定");
    expect(await page.getByRole("link", { name: /前往繳費/ }).getAttribute("href")).toBe("https://pay.example.com/bills/1");
    await shot(page, "04-bill-from-notice");

    const n = await api("GET", `/api/v1/notifications/${sent.body.id}`);
    expect(n.body.seenAt ?? n.body.timeline.find((e: { state: string }) => e.state === "seen")).toBeTruthy();
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it("shows a bound owner their order without any token", async () => {
    const owner = await simUserAndMember({ friend: true });
    await bindViaApi(owner);
    const orderId = rid("O");
    expect(
      (
        await api("PUT", `/api/v1/orders/${orderId}`, {
          memberId: owner.memberId,
          status: "shipped",
          amountTwd: 1350,
          orderedAt: "2026-11-25T03:10:00Z",
          deliveryEta: "2026-11-28T02:00:00Z",
          trackingUrl: "https://track.example.com/TW123",
          items: [
            { name: "不鏽鋼保溫瓶 500ml", quantity: 2, unitPriceTwd: 450 },
            { name: "杯刷", quantity: 1, unitPriceTwd: 450 },
          ],
        })
      ).status,
    ).toBe(201);
    const { ctx, page, problems } = await phonePage();
    await page.goto(`${srv.url}/liff/orders/${orderId}?sandboxUser=${owner.userId}`);
    await page.getByRole("heading", { level: 1, name: `訂單編號 ${orderId}` }).waitFor();
    const body = await page.locator("main").innerText();
    expect(body).toContain("NT$1,350");
    expect(body).toContain("已出貨");
    expect(body).toContain("2026年11月25日"); // 03:10Z is 11:10 in Taipei (still 24 Nov 22:10 in New York)
    expect(body).not.toContain("前往綁定"); // the owner is bound
    expect(await page.getByRole("link", { name: "加入好友" }).count()).toBe(0); // and a friend
    await shot(page, "09-order-owner");
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it("settings → withdraw (one tap + confirm) unbinds at once", async () => {
    const bound = await simUserAndMember();
    await bindViaApi(bound);
    const { ctx, page, problems } = await phonePage();
    await page.goto(`${srv.url}/liff/settings?sandboxUser=${bound.userId}`);
    await page.getByText(bound.memberId, { exact: true }).first().waitFor();
    await page.getByRole("heading", { name: "同意紀錄" }).waitFor();
    await shot(page, "05-settings-bound");
    await page.getByRole("button", { name: "解除綁定並撤回同意" }).click();
    const dialog = page.getByRole("alertdialog", { name: "確定要解除綁定嗎？" });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("確定解除");
    await shot(page, "06-settings-confirm");
    await dialog.getByRole("button", { name: "確定解除" }).click();
    await page.getByRole("status").filter({ hasText: "已解除綁定" }).waitFor();
    await page.getByText("尚未綁定會員").waitFor();
    await shot(page, "07-settings-withdrawn");
    const m = await api("GET", `/api/v1/members/${bound.memberId}`);
    expect(m.body.lineUserId).toBeNull();
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it("shows English on an English phone, and serves the app with a strict CSP", async () => {
    const who = await simUserAndMember({ friend: true });
    const { ctx, page, problems } = await phonePage("en-US");
    const res = await page.goto(`${srv.url}/liff/bind?sandboxUser=${who.userId}`);
    const csp = res!.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await page.getByRole("heading", { level: 1, name: "Link your membership to LINE" }).waitFor();
    await page.getByLabel("Mobile number").fill(who.phone);
    await page.getByRole("button", { name: "Send code" }).click();
    await page.getByLabel("6-digit code").waitFor();
    await shot(page, "08-bind-otp-en");
    // The code went to the SMS sink of the emulator, as it would to the phone.
    const sms = await api("GET", `/sandbox/api/users/${who.userId}/sms`);
    const code = /(\d{6})/.exec(sms.body.items[0].text)![1]!;
    await page.getByLabel("I have read and agree to the above").check();
    await page.getByLabel("6-digit code").fill(code);
    await page.getByRole("button", { name: "Agree and link" }).click();
    await page.getByRole("heading", { name: /Linked/ }).waitFor();
    expect((await api("GET", `/api/v1/members/${who.memberId}`)).body.lineUserId).toBe(who.userId);
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it("axe-core: no serious or critical violation on any LIFF page shown above", () => {
    expect(axeChecked).toBeGreaterThanOrEqual(9);
    expect(axeFindings).toEqual([]);
  });
});
