import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeSerious } from "../helpers/axe.ts";
import { artifactsDir, collectProblems, hasChromium, launchChromium, noteSkipped, type SandboxStack, startSandboxStack } from "../helpers/browser.ts";
import type { ServerProcess } from "../helpers/process.ts";
import { randomTwPhone } from "./helpers.ts";

/**
 * The sandbox console in Debian's chromium against the real server (the production bundle, sandbox mode, in a child
 * process): a developer creates a simulated LINE user, clicks "follow", and the product's own API then lists them
 * as a friend (emulator → signed follow webhook → /webhook → line_users). The page runs under its strict CSP with no
 * console error, never links a `javascript:` URI from a message, and every text on it meets WCAG AA contrast.
 */
const API_KEY = "sandbox-key";

noteSkipped("sandbox console browser test");

let stack: SandboxStack;
let srv: ServerProcess;
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  stack = await startSandboxStack("sandbox-browser", { WORKER_ENABLED: "0" });
  srv = stack.srv;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/**
 * Texts whose contrast with what is behind them is under WCAG 2.x AA: 4.5:1, or 3:1 for large text (≥ 24 px, or
 * ≥ 18.66 px bold). The background is every ancestor's background colour composited from the root down.
 */
function contrastProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    type Rgba = [number, number, number, number];
    const parse = (c: string): Rgba | null => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const [r, g, b, a] = m[1]!
        .split(/[\s,/]+/)
        .filter(Boolean)
        .map(Number);
      return [r!, g!, b!, a ?? 1];
    };
    const over = (top: Rgba, bottom: Rgba): Rgba => [0, 1, 2].map((i) => top[i]! * top[3] + bottom[i]! * (1 - top[3])).concat(1) as Rgba;
    const lum = (c: Rgba) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const behind = (el: Element): Rgba => {
      const chain: Element[] = [];
      for (let e: Element | null = el; e; e = e.parentElement) chain.unshift(e);
      let bg: Rgba = [255, 255, 255, 1];
      for (const e of chain) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c[3] > 0) bg = over(c, bg);
      }
      return bg;
    };
    const problems: string[] = [];
    for (const el of document.querySelectorAll("body *")) {
      if (![...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim())) continue;
      const box = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      if (!box.width || !box.height || st.visibility === "hidden") continue;
      const bg = behind(el);
      const fg = over(parse(st.color)!, bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a) as [number, number];
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(st.fontSize);
      const need = size >= 24 || (Number(st.fontWeight) >= 700 && size >= 18.66) ? 3 : 4.5;
      if (ratio < need)
        problems.push(
          `${el.tagName.toLowerCase()}.${el.className} "${el.textContent!.trim().slice(0, 40)}": ${ratio.toFixed(2)}:1 (${st.color} on rgb(${bg.slice(0, 3).map(Math.round).join(", ")}))`,
        );
    }
    return problems;
  });
}

const lineUser = async (userId: string) => {
  const res = await fetch(`${srv.url}/api/v1/line-users/${userId}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return { status: res.status, body: res.status === 200 ? ((await res.json()) as { friend: boolean }) : null };
};

describe.skipIf(!hasChromium)("sandbox console in chromium", () => {
  it("starts with no LINE configuration and prints the banner with URLs, key and secret", () => {
    const out = srv.output();
    expect(out).toContain("/sandbox");
    expect(out).toContain("/liff/");
    expect(out).toContain("Bearer sandbox-key");
    expect(out).toContain("sandbox-secret");
  });

  it("create a user, click follow: the product API lists them as a friend", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "zh-TW" });
    const page = await ctx.newPage();
    const problems = collectProblems(page);
    try {
      const response = await page.goto(`${srv.url}/sandbox`);
      // The page really runs under the strict CSP: any inline script or style would be a console error below.
      expect(response!.headers()["content-security-policy"]).toMatch(/script-src 'self'.*style-src 'self'|style-src 'self'.*script-src 'self'/);
      await expect(page.title()).resolves.toContain("沙盒");
      const name = `瀏覽器${Math.floor(Math.random() * 1e6)}`;
      await page.fill("#create-phone", randomTwPhone());
      await page.fill("#create-name", name);
      await page.selectOption("#create-consent", "unset");
      await page.click("#create-submit");

      const row = page.locator("tr[data-user-row]", { hasText: name });
      await row.waitFor();
      const userId = (await row.getAttribute("data-user-row"))!;
      expect(userId).toMatch(/^U[0-9a-f]{32}$/);
      expect((await lineUser(userId)).status).toBe(404); // not followed yet: the product has never heard of them

      await row.locator('button[data-action="follow"]').click();
      // The console re-reads the product's view after the action; wait until it shows the friend.
      await row.locator('[data-col="product"]', { hasText: "好友 friend" }).waitFor();
      expect((await row.locator('[data-col="product"]').textContent())?.startsWith("好友 friend")).toBe(true);

      let seen = await lineUser(userId);
      for (let i = 0; i < 50 && !seen.body?.friend; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await lineUser(userId);
      }
      expect(seen.status).toBe(200);
      expect(seen.body!.friend).toBe(true);

      // A push from "the OA" (straight to the emulator, as our worker would) shows in this user's LINE inbox, its
      // next-step button pointing at our /liff as this user.
      const { emulatorUrl, liffId } = (await (await fetch(`${srv.url}/sandbox/api/overview`)).json()) as { emulatorUrl: string; liffId: string };
      const push = await fetch(`${emulatorUrl}/v2/bot/message/push`, {
        method: "POST",
        headers: { authorization: "Bearer sandbox-token", "content-type": "application/json" },
        body: JSON.stringify({
          to: userId,
          messages: [
            {
              type: "flex",
              altText: "您的訂單 A-100 已出貨",
              contents: {
                type: "bubble",
                body: { type: "box", layout: "vertical", contents: [{ type: "text", text: "訂單 A-100 已出貨，預計明日送達" }] },
                footer: {
                  type: "box",
                  layout: "vertical",
                  contents: [
                    { type: "button", action: { type: "uri", label: "查看訂單 View order", uri: `https://liff.line.me/${liffId}/orders/A-100?t=tok` } },
                  ],
                },
              },
            },
          ],
        }),
      });
      expect(push.status).toBe(200);
      // A message whose buttons carry a javascript: URI and a tel: URI: only the tel: one may become a link.
      const hostile = await fetch(`${emulatorUrl}/v2/bot/message/push`, {
        method: "POST",
        headers: { authorization: "Bearer sandbox-token", "content-type": "application/json" },
        body: JSON.stringify({
          to: userId,
          messages: [
            {
              type: "template",
              altText: "可疑的按鈕 Suspicious buttons",
              template: {
                type: "buttons",
                text: "請點選 Tap one",
                actions: [
                  { type: "uri", label: "惡意 Evil", uri: "javascript:document.title='pwned'" },
                  { type: "uri", label: "客服 Call", uri: "tel:+886223456789" },
                ],
              },
            },
          ],
        }),
      });
      expect(hostile.status).toBe(200);

      // The detail panel: the inbox, and the LIFF app as this user.
      await row.locator('button[data-action="select"]').click();
      const msg = page.locator("#detail-body .msg", { hasText: "您的訂單 A-100 已出貨" });
      await msg.waitFor();
      await expect(msg.locator("a.link").getAttribute("href")).resolves.toBe(`/liff/orders/A-100?t=tok&sandboxUser=${userId}`);
      await expect(page.locator("#liff-settings").getAttribute("href")).resolves.toBe(`/liff/settings?sandboxUser=${userId}`);
      await expect(page.locator("#liff-bind").getAttribute("href")).resolves.toBe(`/liff/bind?sandboxUser=${userId}`);
      const suspicious = page.locator("#detail-body .msg", { hasText: "可疑的按鈕" });
      await suspicious.waitFor();
      await expect(suspicious.locator("a").evaluateAll((as) => as.map((a) => a.getAttribute("href")))).resolves.toEqual(["tel:+886223456789"]);
      await expect(suspicious.locator("[data-unlinked]").textContent()).resolves.toContain("javascript:document.title='pwned'");
      await expect(page.locator('a[href^="javascript:" i], a[href^="data:" i]').count()).resolves.toBe(0);

      // Editing the user in the detail panel changes what the emulator does (consent refused → PNP 422).
      const simBefore = (await (await fetch(`${srv.url}/sandbox/api/users/${userId}`)).json()) as { lastSmsVerifiedAt: string };
      await page.selectOption("#edit-consent", "no");
      await page.click('#edit-form button[type="submit"]');
      await row.locator("td", { hasText: "拒絕 no" }).waitFor();
      const sim = (await (await fetch(`${srv.url}/sandbox/api/users/${userId}`)).json()) as { pnpConsent: string; lastSmsVerifiedAt: string };
      expect(sim.pnpConsent).toBe("no");
      expect(sim.lastSmsVerifiedAt).toBe(simBefore.lastSmsVerifiedAt); // untouched fields stay as they were

      // The webhook log shows the follow our /webhook accepted.
      await page.locator("#webhook-rows tr", { hasText: "follow" }).first().waitFor();
      await page.screenshot({ path: join(artifactsDir, "sandbox-console.png"), fullPage: true });
      await expect(contrastProblems(page)).resolves.toEqual([]);
      await expect(axeSerious(page)).resolves.toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
