import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { artifactsDir, collectProblems, hasChromium, launchChromium, noteSkipped, startSandboxStack, type SandboxStack } from "../helpers/browser.ts";
import type { ServerProcess } from "../helpers/process.ts";
import { randomTwPhone } from "./helpers.ts";

/**
 * The sandbox console in Debian's chromium against the real server (`server/src/main.ts`, sandbox mode, in a child
 * process): a developer creates a simulated LINE user, clicks "follow", and the product's own API then lists them
 * as a friend (emulator → signed follow webhook → /webhook → line_users).
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
      await page.goto(`${srv.url}/sandbox`);
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
                footer: { type: "box", layout: "vertical", contents: [{ type: "button", action: { type: "uri", label: "查看訂單 View order", uri: `https://liff.line.me/${liffId}/orders/A-100?t=tok` } }] },
              },
            },
          ],
        }),
      });
      expect(push.status).toBe(200);

      // The detail panel: the inbox, and the LIFF app as this user.
      await row.locator('button[data-action="select"]').click();
      const msg = page.locator("#detail-body .msg", { hasText: "您的訂單 A-100 已出貨" });
      await msg.waitFor();
      await expect(msg.locator("a.link").getAttribute("href")).resolves.toBe(`/liff/orders/A-100?t=tok&sandboxUser=${userId}`);
      await expect(page.locator("#liff-settings").getAttribute("href")).resolves.toBe(`/liff/settings?sandboxUser=${userId}`);
      await expect(page.locator("#liff-bind").getAttribute("href")).resolves.toBe(`/liff/bind?sandboxUser=${userId}`);

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
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
