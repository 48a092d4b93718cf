import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, collectProblems, hasChromium, launchChromium, noteSkipped, type SandboxStack, startSandboxStack } from "../helpers/browser.ts";
import type { ServerProcess } from "../helpers/process.ts";

/**
 * The operator dashboard in Debian's chromium against the real server (`server/src/main.ts`, sandbox mode with its
 * worker and LINE emulator, in a child process): three notices go out through the API (push to the demo friend,
 * PNP to the demo non-friend, SMS to the number LINE does not know); the operator opens /dashboard, types the key,
 * and sees the funnel, channels, NT$ and friends; then asks why demo-no-line got an SMS (PNP first, LINE answered 422, so the SMS went at once).
 * The operator types a read-only key (API_KEYS_READONLY): the dashboard only reads.
 */
const API_KEY = "sandbox-key";
const READONLY_KEY = "dashboard-read-only-key-0123";
noteSkipped("dashboard browser test");

let stack: SandboxStack;
let srv: ServerProcess;
let browser: Browser;

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${srv.url}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as any };
};

beforeAll(async () => {
  if (!hasChromium) return;
  // The demo members (demo-friend, demo-pnp, demo-no-line) are seeded before the banner.
  // The demo's fallback SMS must go now whatever the time of day of the run (not at the end of the quiet hours).
  stack = await startSandboxStack("dashboard-browser", { API_KEYS_READONLY: READONLY_KEY, SMS_QUIET_HOURS: "off" });
  srv = stack.srv;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe.skipIf(!hasChromium)("operator dashboard in chromium", () => {
  it("shows the period's funnel, channels, NT$ and friends, and explains a member's SMS", async () => {
    const sent: Record<string, string> = {};
    for (const [memberId, scenario] of [
      ["demo-friend", "shipping"],
      ["demo-pnp", "payment"],
      ["demo-no-line", "billing"],
    ] as const) {
      const r = await api("/notifications", { method: "POST", body: JSON.stringify({ memberId, scenario, urgency: "day", text: "您的通知 Your notice" }) });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      sent[memberId] = r.body.id;
    }
    // The worker sends; the emulator's delivery webhook settles the PNP half a second later.
    const want: Record<string, string> = { "demo-friend": "delivered", "demo-pnp": "delivered", "demo-no-line": "sms_sent" };
    for (const [memberId, id] of Object.entries(sent)) {
      let status = "";
      for (let i = 0; i < 300 && status !== want[memberId]; i++) {
        status = (await api(`/notifications/${id}`)).body.status;
        if (status !== want[memberId]) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status, memberId).toBe(want[memberId]);
    }
    const expected = (await api(`/stats?from=${encodeURIComponent(new Date(Date.now() - 86_400_000).toISOString())}`)).body;

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 }, locale: "zh-TW", timezoneId: "Asia/Taipei" });
    const page = await ctx.newPage();
    const problems = collectProblems(page);
    try {
      await page.goto(`${srv.url}/dashboard`);
      await expect(page.title()).resolves.toContain("營運儀表板");
      await page.locator("#status", { hasText: "請輸入 API 金鑰" }).waitFor();

      // A wrong key: a clear message, nothing kept.
      await page.getByLabel("API 金鑰 API key").fill("not-the-key");
      await page.click("#key-submit");
      await page.locator("#status.err", { hasText: "401" }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem("oa-notify.apiKey"))).toBeNull();

      // The read-only key cannot send (403), and the dashboard works with it.
      expect((await api("/notifications", { method: "POST", body: "{}", headers: { authorization: `Bearer ${READONLY_KEY}` } })).status).toBe(403);
      await page.getByLabel("API 金鑰 API key").fill(READONLY_KEY);
      await page.click("#key-submit");
      await page.locator("#status", { hasText: "已更新" }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem("oa-notify.apiKey"))).toBe(READONLY_KEY);
      expect(await page.evaluate(() => localStorage.length)).toBe(0);

      const cell = (row: string) => page.locator(`#funnel tr[data-step="${row}"] td.num`).first().textContent();
      expect(await cell("accepted")).toBe("3");
      expect(await cell("sent")).toBe("3");
      expect(await cell("delivered")).toBe("2");
      expect(await cell("smsSent")).toBe("1");
      expect(await cell("pending")).toBe("0");
      // push to the friend; PNP to the other two (the unknown number gets LINE's 422, then the SMS at once).
      expect(Object.keys(expected.byChannel).sort()).toEqual(["pnp", "push"]);
      expect(await page.locator("#channels tr[data-channel]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-channel")))).toEqual(["pnp", "push"]);
      expect(await page.locator('#channels tr[data-channel="pnp"] td.num').textContent()).toBe("2 (66.7%)");
      expect(expected.fallback).toMatchObject({ lineRouted: 3, fellBackToSms: 1 });
      expect(await page.locator("#fallback-rate").textContent()).toBe("33.3%");
      const twd = (n: number) => `NT$${n.toFixed(2)}`;
      expect(await page.locator('#cost tr[data-cost="pnp"] td.num').textContent()).toBe(twd(expected.costTwd.pnp));
      expect(await page.locator('#cost tr[data-cost="sms"] td.num').textContent()).toBe(twd(expected.costTwd.sms));
      expect(await page.locator("#all-sms").textContent()).toBe(twd(expected.allSmsCostTwd));
      expect(await page.locator("#saved").textContent()).toBe(twd(expected.savedTwd));
      expect(expected.savedTwd).toBeGreaterThan(0);
      expect(await page.locator("#friends-gained").textContent()).toBe("1"); // demo-friend followed at first start
      expect(await page.locator("#friends-total").textContent()).toBe("1");

      // Why did demo-no-line get an SMS?
      await page.getByLabel("會員編號 Member ID").fill("demo-no-line");
      await page.click("#member-submit");
      const row = page.locator(`#member-table tr[data-notification="${sent["demo-no-line"]}"]`);
      await row.waitFor();
      expect(await row.textContent()).toContain("通知型訊息 PNP");
      expect(await row.locator("td").nth(4).textContent()).toMatch(/^是 yes/);
      expect(await row.locator(".rule").textContent()).toMatch(/PNP .*SMS fallback/);
      await row.locator("summary").click();
      await row.locator(".timeline li").first().waitFor();
      const timeline = await row.locator(".timeline").textContent();
      expect(timeline).toContain("簡訊已送出 SMS sent");
      expect(timeline).toContain("LINE 422");
      expect(await row.locator("p.why").textContent()).toMatch(/^為什麼發簡訊 Why SMS: LINE 422/);
      expect(await row.locator("p.rule").textContent()).toMatch(/PNP .*SMS fallback/);

      // Keyboard: the period radios are reachable and switching re-queries.
      await page.locator('input[name="period"][value="30"]').focus();
      await page.keyboard.press("Space");
      await page.locator("#status", { hasText: "已更新" }).waitFor();
      expect(await cell("accepted")).toBe("3");

      await page.screenshot({ path: join(artifactsDir, "dashboard.png"), fullPage: true });
      // The one 401 is the wrong key above (chromium logs every failed fetch); nothing else, no CSP violation.
      expect(problems).toEqual(["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
    } finally {
      await ctx.close();
    }
  });
});
