import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { phoneHash } from "@oa-notify/server/lib/phone.ts";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, collectProblems, hasChromium, launchChromium, noteSkipped, type SandboxStack, startSandboxStack } from "../helpers/browser.ts";
import type { ServerProcess } from "../helpers/process.ts";
import { CONSENT, randomPhone, rid } from "./helpers.ts";

/**
 * Issue 10 in the browser: the LIFF settings screens for withdrawing LINE consent and for changing the phone number,
 * in Debian's chromium against the real server in sandbox mode (its worker, its LINE emulator, its SMS sink).
 */
const liffDir = fileURLToPath(new URL("../../../liff-app", import.meta.url));
const artifacts = join(artifactsDir, "liff");
const API_KEY = "sandbox-key";
noteSkipped("LIFF settings browser test");

let stack: SandboxStack;
let srv: ServerProcess;
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  if (!existsSync(join(liffDir, "dist/index.html"))) execFileSync(join(liffDir, "node_modules/.bin/vite"), ["build"], { cwd: liffDir, stdio: "ignore" });
  mkdirSync(artifacts, { recursive: true });
  stack = await startSandboxStack("liff-settings");
  srv = stack.srv;
  browser = await launchChromium();
});

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

const e164 = (local: string) => `+886${local.slice(1)}`;

/** A simulated LINE user (a friend) whose phone is a member's, bound through the LIFF API with the emulator's ID token. */
async function boundMember() {
  const phone = randomPhone();
  const u = await api("POST", "/sandbox/api/users", { phone, displayName: "林小華", friend: true });
  expect(u.status).toBe(201);
  const memberId = rid("M");
  expect((await api("PUT", `/api/v1/members/${memberId}`, { phone })).status).toBe(201);
  const link = await api("POST", `/api/v1/members/${memberId}/binding-links`);
  const { idToken } = (await api("GET", `/sandbox/api/users/${u.body.userId}/id-token`)).body;
  const res = await fetch(`${srv.url}/liff-api/bindings`, {
    method: "POST",
    headers: { authorization: `Bearer ${idToken}`, "content-type": "application/json" },
    body: JSON.stringify({ bindingToken: new URL(link.body.url).searchParams.get("token"), consent: CONSENT }),
  });
  expect(res.status).toBe(201);
  return { userId: u.body.userId as string, memberId, phone };
}

async function settingsPage(userId: string): Promise<{ page: Page; problems: string[]; close: () => Promise<void> }> {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-TW", isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  const problems = collectProblems(page);
  await page.goto(`${srv.url}/liff/settings?sandboxUser=${userId}`);
  await page.getByRole("heading", { name: "同意紀錄" }).waitFor();
  return { page, problems, close: () => ctx.close() };
}

async function until<T>(what: string, f: () => Promise<T | undefined | null | false>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!hasChromium)("LIFF settings in chromium (sandbox)", () => {
  it("withdrawal says what happens, and the next notice goes by SMS with no LINE message (push or PNP) at all", async () => {
    const who = await boundMember();
    const { page, problems, close } = await settingsPage(who.userId);
    await page.getByRole("button", { name: "解除綁定並撤回同意" }).click();
    const dialog = page.getByRole("alertdialog", { name: "確定要解除綁定嗎？" });
    await dialog.waitFor();
    const body = await dialog.innerText();
    expect(body).toContain("不會再用 LINE 傳送你的通知（包括官方帳號訊息與 LINE 通知型訊息），改用簡訊傳送到你的手機");
    await page.screenshot({ path: join(artifacts, "20-withdraw-confirm.png"), fullPage: true });
    await dialog.getByRole("button", { name: "確定解除" }).click();
    await page.getByRole("status").filter({ hasText: "之後的通知會改用簡訊傳送" }).waitFor();
    await page.getByText("撤回同意").first().waitFor(); // the ledger on the page shows the withdrawal

    const sent = await api("POST", "/api/v1/notifications", { memberId: who.memberId, scenario: "billing", urgency: "day", text: "您的帳單已出帳 NT$520" });
    expect(sent.status).toBe(202);
    const n = await until("the SMS", async () => {
      const r = await api("GET", `/api/v1/notifications/${sent.body.id}`);
      return r.body.status === "sms_sent" ? r.body : null;
    });
    expect(n.channel).toBe("sms");
    expect(n.route.rule).toMatch(/^member withdrew LINE consent on \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}: SMS$/);
    const sms = await api("GET", `/sandbox/api/users/${who.userId}/sms`);
    expect(sms.body.items.map((s: { text: string }) => s.text)).toEqual(["您的帳單已出帳 NT$520"]);
    const requests = (await api("GET", "/sandbox/api/requests")).body.requests as { path: string; body: unknown }[];
    const hash = phoneHash(e164(who.phone));
    expect(requests.filter((r) => r.path.startsWith("/bot/pnp/") && JSON.stringify(r.body).includes(hash))).toEqual([]);
    const inbox = await api("GET", `/sandbox/api/users/${who.userId}/inbox`);
    expect(inbox.body.items).toEqual([]);
    expect(problems).toEqual([]);
    await close();
  });

  it("phone change: a code goes to the new number (the sandbox SMS sink), and once entered the member's phone is the new one", async () => {
    const who = await boundMember();
    const next = randomPhone();
    const { page, problems, close } = await settingsPage(who.userId);
    await page.getByRole("heading", { name: "更換手機號碼" }).waitFor();
    await page.getByLabel("新的手機號碼").fill(next);
    await page.getByRole("button", { name: "傳送驗證碼" }).click();
    await page.getByRole("status").filter({ hasText: "驗證碼已傳送到新號碼" }).waitFor();
    const code = await until("the OTP SMS", async () => {
      const list = (await api("GET", "/sandbox/api/sms")).body.phones as { phone: string; items: { text: string }[] }[];
      const text = list.find((p) => p.phone === e164(next))?.items[0]?.text;
      return text ? /(\d{6})/.exec(text)?.[1] : null;
    });
    await page.getByLabel("6 位數驗證碼").fill(code);
    await page.screenshot({ path: join(artifacts, "21-phone-change-code.png"), fullPage: true });
    await page.getByRole("button", { name: "確認更換" }).click();
    await page.getByRole("status").filter({ hasText: "手機號碼已更新" }).waitFor();
    await page.getByText(`+886*****${next.slice(-3)}`).waitFor();
    const m = await api("GET", `/api/v1/members/${who.memberId}`);
    expect(m.body.phone).toBe(e164(next));
    expect(problems).toEqual([]);
    await close();
  });
});
