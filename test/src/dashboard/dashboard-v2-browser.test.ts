import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createLineApi } from "@oa-notify/server";
import { pushMessage } from "@oa-notify/server/lib/line/calls.ts";
import type { Browser, Page } from "playwright-core";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, listen, TEST_API_KEY } from "../helpers/app.ts";
import { axeSerious } from "../helpers/axe.ts";
import { artifactsDir, collectProblems, hasChromium, launchChromium, noteSkipped } from "../helpers/browser.ts";
import { buildHistory } from "../helpers/history.ts";
import { ACCESS_TOKEN, type NotifyHarness, notifyHarness } from "../notify/harness.ts";

/**
 * The dashboard's v2 sections in Debian's chromium, against the app (createApp, the sandbox LINE emulator, the
 * worker) with a week of history made through the product's own paths on the manual clock (helpers/history.ts):
 * 2026-11-25 to 2026-12-01 (Taipei), the browser's clock set to the server's. The operator answers the questions of
 * issue 12 from the page: trends, use cases, the monthly statement against LINE, what failed, binding and friends.
 */
noteSkipped("dashboard v2 browser test");

let h: NotifyHarness;
let server: Server;
let url: string;
let browser: Browser;
const NOW = Date.parse("2026-12-01T06:00:00Z"); // 14:00 in Taipei
const none = { push: 0, pnp: 0, smsFallback: 0, heldPnp: 0, refusedPnp: 0, smsRejected: 0, follows: 0, blocks: 0 };
const get = async (path: string) => {
  const res = await request(h.t.app).get(`/api/v1${path}`).set(auth());
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

beforeAll(async () => {
  if (!hasChromium) return;
  h = await notifyHarness();
  await buildHistory(
    h,
    "2026-11-25",
    [0, 1, 2, 3, 4, 5, 6].map((i) => ({
      ...none,
      push: 1 + (i % 3),
      pnp: 1 + (i % 2),
      smsFallback: i % 2,
      heldPnp: i === 2 ? 1 : 0,
      refusedPnp: i === 4 || i === 6 ? 1 : 0,
      smsRejected: i === 6 ? 1 : 0,
      follows: i % 3 === 0 ? 1 : 0,
      blocks: i === 5 ? 1 : 0,
    })),
  );
  h.t.clock.set(NOW);
  await h.run();
  // A push LINE counts that did not go through oa-notify: the statement must flag 2026-12-01.
  const friend = await h.member({ bind: true, follow: true });
  const line = createLineApi({ baseUrl: h.emulator.url, channelAccessToken: ACCESS_TOKEN });
  await pushMessage(line, { to: friend.userId!, messages: [{ type: "text", text: "外部推播 external" }], retryKey: crypto.randomUUID() });
  server = await listen(h.t.app);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (server) await new Promise<void>((r) => server.close(() => r()));
  await h?.close();
});

const texts = (page: Page, sel: string) => page.locator(sel).evaluateAll((els) => els.map((e) => (e.textContent ?? "").trim()));
const twd = (n: number) => `NT$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const pct = (x: number) => `${(Math.round(x * 1000) / 10).toFixed(1)}%`;

describe.skipIf(!hasChromium)("operator dashboard v2 in chromium", () => {
  it("answers the five questions from the page, with the API's figures, no console error and no serious axe finding", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 }, locale: "zh-TW", timezoneId: "Asia/Taipei", acceptDownloads: true });
    await ctx.clock.setFixedTime(NOW);
    const page = await ctx.newPage();
    const problems = collectProblems(page);
    try {
      await page.goto(`${url}/dashboard`);
      await page.getByLabel("API 金鑰 API key").fill(TEST_API_KEY);
      await page.click("#key-submit");
      await page.locator("#status", { hasText: "已更新" }).waitFor();
      expect(await page.locator("#updated").textContent()).toMatch(/^已更新 Updated at 2026\/12\/01 14:00:00$/);
      await expect(page.locator("#auto-refresh").isChecked()).resolves.toBe(true);

      // Today: 24 hourly points in each chart.
      for (const id of ["chart-outcomes", "chart-fallback", "chart-cost"]) {
        expect(await page.locator(`#${id}`).getAttribute("data-points"), id).toBe("24");
        await expect(page.locator(`#${id} canvas`).count()).resolves.toBe(1);
      }
      expect(await page.locator("#trend-table tbody tr").count()).toBe(24);

      // 7 days: one point per Taipei day, the table beside the charts equal to the API's series.
      await page.locator('input[name="period"][value="7"]').check();
      await page.locator("#chart-outcomes[data-points='7']").waitFor();
      await page.locator("#status", { hasText: "已更新" }).waitFor();
      const series = await get("/stats/series?from=2026-11-25&to=2026-12-02&interval=day");
      expect(series.points).toHaveLength(7);
      for (const id of ["chart-outcomes", "chart-fallback", "chart-cost"]) expect(await page.locator(`#${id}`).getAttribute("data-points")).toBe("7");
      // uPlot's legend names every series in zh-TW first; the x axis shows Taipei dates.
      expect(await texts(page, "#chart-outcomes .u-legend th")).toEqual([
        "LINE 已送達 Delivered by LINE",
        "簡訊 SMS sent",
        "失敗/未送達 Failed or undelivered",
        "處理中 In progress",
      ]);
      const rows = page.locator("#trend-table tbody tr");
      expect(await rows.count()).toBe(7);
      expect(await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute("data-at")))).toEqual(series.points.map((p: { at: string }) => p.at));
      expect(await texts(page, "#trend-table tbody tr th")).toEqual([
        "2026/11/25",
        "2026/11/26",
        "2026/11/27",
        "2026/11/28",
        "2026/11/29",
        "2026/11/30",
        "2026/12/01",
      ]);
      expect(await texts(page, "#trend-table tbody tr td:nth-child(2)")).toEqual(series.points.map((p: { total: number }) => String(p.total)));
      expect(await texts(page, "#trend-table tbody tr td:nth-child(9)")).toEqual(
        series.points.map((p: { fallback: { rate: number } }) => pct(p.fallback.rate)),
      );
      expect(await texts(page, "#trend-table tbody tr td:nth-child(10)")).toEqual(
        series.points.map((p: { costTwd: { total: number } }) => twd(p.costTwd.total)),
      );
      expect(series.points.map((p: { total: number }) => p.total)).toEqual([2, 5, 5, 4, 4, 6, 4]);

      // By use case: the API's rows, sortable by NT$ spent.
      const stats = await get(`/stats?from=2026-11-24T16:00:00.000Z&to=2026-12-01T16:00:00.000Z&groupBy=scenario`);
      expect(await texts(page, "#use-case-table tbody th")).toEqual(stats.byScenario.map((u: { scenario: string }) => u.scenario));
      await page.locator("#use-case-table thead th", { hasText: "花費 Spent" }).getByRole("button").click();
      await page.locator("#use-case-table thead th", { hasText: "花費 Spent" }).getByRole("button").click();
      expect(await page.locator("#use-case-table thead th", { hasText: "花費 Spent" }).getAttribute("aria-sort")).toBe("descending");
      const bySpent = [...stats.byScenario].sort((a: { costTwd: { total: number } }, b: { costTwd: { total: number } }) => b.costTwd.total - a.costTwd.total);
      expect((await texts(page, "#use-case-table tbody th"))[0]).toBe(bySpent[0].scenario);
      expect(bySpent[0].scenario).toBe("billing"); // the SMS fallbacks cost the most

      // The scenario registry: the API's scenarios, in its order (the 18 seeded use cases first).
      const registry = await get("/scenarios");
      expect(await texts(page, "#scenarios-table tbody th")).toEqual(registry.scenarios.map((x: { scenario: string }) => x.scenario));
      expect((await texts(page, "#scenarios-table tbody th")).slice(0, 2)).toEqual(["shipping", "purchase"]);

      // CSV of a table: UTF-8 with a BOM, the header row first.
      const [download] = await Promise.all([page.waitForEvent("download"), page.click('button[data-csv-for="use-case-table"]')]);
      expect(download.suggestedFilename()).toBe("use-cases.csv");
      const csv = readFileSync((await download.path())!, "utf8");
      expect(csv.charCodeAt(0)).toBe(0xfeff);
      expect(csv.slice(1).split("\r\n")[0]).toBe(
        "用途 Scenario,總數 Total,LINE 送達 Delivered,簡訊 SMS sent,失敗/未送達 Failed,備援率 Fallback,花費 Spent,全簡訊 All-SMS,節省 Saved",
      );
      expect(csv.split("\r\n").filter(Boolean)).toHaveLength(1 + stats.byScenario.length);

      // The monthly statement: the API's figures; 2026-12-01 flagged (LINE counted a push we did not send).
      const dec = await get("/stats/statement?month=2026-12");
      expect(await page.locator("#statement-month").inputValue()).toBe("2026-12");
      expect(await page.locator('#statement-table tr[data-item="pnp"] td').first().textContent()).toBe(String(dec.pnpDelivered));
      expect(await page.locator('#statement-table tr[data-item="total"] td.num').textContent()).toBe(twd(dec.costTwd.total));
      expect(await page.locator("#reconcile-table tbody tr").count()).toBe(1);
      const flagged = page.locator('#reconcile-table tr[data-date="2026-12-01"]');
      expect(await flagged.getAttribute("class")).toBe("flag");
      expect(await flagged.locator("td").nth(2).textContent()).toBe("+1");
      expect(await flagged.textContent()).toContain("⚠ 不一致 differs");
      await page.locator("#statement-month").fill("2026-11");
      await page.locator('#reconcile-table tr[data-date="2026-11-30"]').waitFor();
      const nov = await get("/stats/statement?month=2026-11");
      expect(await page.locator("#reconcile-table tbody tr").count()).toBe(30);
      expect(await page.locator("#reconcile-table tr.flag").count()).toBe(nov.reconciliation.flaggedDays);
      expect(nov.reconciliation.flaggedDays).toBe(0);
      expect(await page.locator('#statement-table tr[data-item="pnp"] td').first().textContent()).toBe(String(nov.pnpDelivered));
      expect(await page.locator('#statement-table tr[data-item="sms"] td.num').nth(1).textContent()).toBe(twd(nov.costTwd.sms));
      expect(await page.locator("#reconcile-summary").textContent()).toContain(
        `LINE 推播 ${nov.reconciliation.totals.line.push} / 我們 ${nov.reconciliation.totals.ours.push}`,
      );

      // What failed in the week, and why; a failed notice's timeline has no "null" line.
      const failures = await get("/stats/failures?from=2026-11-24T16:00:00.000Z&to=2026-12-01T16:00:00.000Z");
      expect(failures.total).toBe(4); // one held PNP undelivered after 24 h, two refused PNPs, one SMS refused
      expect(await page.locator("#failure-table tbody tr").count()).toBe(4);
      const failed = page.locator("#failure-table tbody tr", { hasText: "otp" });
      expect(await failed.locator("td.reason").textContent()).toBe("SMS: provider refused: invalid number");
      await failed.locator("summary").click();
      await failed.locator(".timeline li").first().waitFor();
      const detail = (await failed.locator(".detail").textContent()) ?? "";
      expect(detail).not.toMatch(/^null/);
      expect(
        await failed
          .locator(".detail > *")
          .first()
          .evaluate((e) => e.className),
      ).toBe("rule");
      expect(detail).toContain("失敗 failed");

      // Binding and friends.
      const audience = await get("/stats/audience?from=2026-11-24T16:00:00.000Z&to=2026-12-01T16:00:00.000Z");
      expect(await page.locator("#binding-rate").textContent()).toBe(pct(audience.binding.rate));
      expect(await page.locator("#chart-audience").getAttribute("data-points")).toBe("7");
      expect(await texts(page, "#audience-table tbody td:nth-child(3)")).toEqual(audience.days.map((d: { blocked: number }) => String(d.blocked)));
      expect(audience.days.map((d: { blocked: number }) => d.blocked)).toEqual([0, 0, 0, 0, 0, 1, 0]);

      await page.screenshot({ path: join(artifactsDir, "dashboard-v2.png"), fullPage: true });
      await page.locator("#trends").screenshot({ path: join(artifactsDir, "dashboard-v2-trends.png") });
      await page.locator("#statement-month").fill("2026-12");
      await page.locator('#reconcile-table tr[data-date="2026-12-01"]').waitFor();
      await page.locator("#statement").screenshot({ path: join(artifactsDir, "dashboard-v2-statement.png") });
      await expect(axeSerious(page)).resolves.toEqual([]);
      // The check can fail: an image without a text alternative is a critical finding.
      await page.evaluate(() => document.querySelector("main")!.append(Object.assign(document.createElement("img"), { src: "/dashboard/x.png" })));
      expect((await axeSerious(page)).filter((f) => f.startsWith("image-alt (critical)"))).toHaveLength(1);
      expect(problems).toEqual(["Failed to load resource: the server responded with a status of 404 (Not Found)"]);
    } finally {
      await ctx.close();
    }
  });
});
