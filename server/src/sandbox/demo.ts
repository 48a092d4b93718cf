/**
 * `pnpm demo`: drives a running sandbox server (`pnpm start` in another terminal) through the real paths.
 *  1. the webhook/friend flow: a simulated LINE user follows the OA → the product sees a friend;
 *  2. once the notifications API exists: one notice per route (push to a friend, PNP to a non-friend, PNP held for
 *     consent → SMS fallback, a number LINE does not know → SMS), printing each notification's status.
 * Add a route by appending to `ROUTES` below. The API is called through the typed client generated from its OpenAPI
 * document (@oa-notify/client, docs/api.md); the sandbox's own console API (/sandbox/api) with plain fetch.
 */
import { randomBytes } from "node:crypto";
import { type components, createClient } from "@oa-notify/client";
import { configFromProcess } from "../env.ts";

const config = configFromProcess();
const base = config.publicBaseUrl;
const apiKey = config.apiKeys[0] ?? "sandbox-key";
const api = createClient({ baseUrl: base, apiKey });

type NotificationBody = components["schemas"]["CreateNotificationRequest"];

interface DemoRoute {
  /** what the route shows, zh-TW + English */
  label: string;
  memberId: string;
  /** notification fields beyond memberId */
  body: Omit<NotificationBody, "memberId">;
}

// The members seeded on the sandbox's first start (server/src/sandbox/runtime.ts seedSandbox).
const ROUTES: DemoRoute[] = [
  {
    label: "好友 → LINE 推播 · friend → push",
    memberId: "demo-friend",
    body: { scenario: "shipping", urgency: "day", text: "您的訂單已出貨，預計明日送達。Your order has shipped." },
  },
  {
    label: "非好友 → 通知型訊息 · not a friend → PNP",
    memberId: "demo-pnp",
    body: { scenario: "payment", urgency: "day", text: "您的付款已完成。Your payment is complete." },
  },
  {
    label: "未設定同意 → PNP 保留 → 簡訊備援 · consent unset → PNP held → SMS fallback",
    memberId: "demo-unset",
    body: { scenario: "billing", urgency: "hour", text: "本月帳單已出帳。Your bill is ready.", sms: { afterSeconds: 5 } },
  },
  {
    label: "LINE 不認得的號碼 → 簡訊 · number unknown to LINE → SMS",
    memberId: "demo-no-line",
    body: { scenario: "reservation_reminder", urgency: "hour", text: "提醒您明天的預約。A reminder of tomorrow's reservation." },
  },
];

/** The sandbox console's API (not part of the published contract). */
async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json().catch(() => ({}))) as T;
  return { status: res.status, json };
}
const must = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
  const r = await call<T>(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s = "") => process.stdout.write(`${s}\n`);

async function friendFlow() {
  say("① 加好友流程 · webhook/friend flow");
  const phone = `0912${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, "0")}`;
  const memberId = `demo-${randomBytes(3).toString("hex")}`;
  const user = await must<{ userId: string; displayName: string }>("POST", "/sandbox/api/users", { phone, displayName: "Demo 使用者", pnpConsent: "yes" });
  const put = await api.PUT("/api/v1/members/{memberId}", { params: { path: { memberId } }, body: { phone, name: "Demo 使用者" } });
  if (!put.data) throw new Error(`PUT /api/v1/members/${memberId} → ${put.response.status} ${JSON.stringify(put.error)}`);
  say(`   模擬使用者 simulated user ${user.userId} (${phone}), 會員 member ${memberId}`);
  const lineUser = () => api.GET("/api/v1/line-users/{userId}", { params: { path: { userId: user.userId } } });
  const before = await lineUser();
  say(`   加好友前 before follow: ${before.response.status === 404 ? "產品不認得 unknown to the product (404)" : `friend=${before.data?.friend}`}`);
  await must("POST", `/sandbox/api/users/${user.userId}/follow`, {});
  for (let i = 0; i < 50; i++) {
    const r = await lineUser();
    if (r.data?.friend) {
      say(`   follow webhook → 產品視為好友 the product now sees a friend: GET /api/v1/line-users/${user.userId} → friend=true`);
      return;
    }
    await sleep(100);
  }
  throw new Error("the follow webhook did not make the user a friend within 5 s");
}

const TERMINAL = new Set(["delivered", "delivered_late", "sms_sent", "failed", "undelivered", "cancelled"]);

async function noticeFlow() {
  say("② 每條路徑各送一則通知 · one notice down each route");
  const sent: { route: DemoRoute; id: string }[] = [];
  for (const route of ROUTES) {
    const r = await api.POST("/api/v1/notifications", {
      params: { header: { "Idempotency-Key": `demo-${route.memberId}-${Date.now()}` } },
      body: { memberId: route.memberId, ...route.body },
    });
    if (r.response.status !== 202 || !r.data) {
      say(`   ✗ ${route.label}: ${r.response.status} ${r.error?.error.message ?? ""}`);
      continue;
    }
    sent.push({ route, id: r.data.id });
    say(`   → ${route.label}: ${r.data.id} (${r.data.status})`);
  }
  const notification = (id: string) => api.GET("/api/v1/notifications/{id}", { params: { path: { id } } });
  const final = new Map<string, { status: string; channel: string | null }>();
  for (let i = 0; i < 40 && final.size < sent.length; i++) {
    await call("POST", "/sandbox/api/deliver", {}); // the emulator's pending delivery webhooks, now
    for (const s of sent) {
      if (final.has(s.id)) continue;
      const r = await notification(s.id);
      if (r.data && TERMINAL.has(r.data.status)) final.set(s.id, r.data);
    }
    if (final.size < sent.length) await sleep(500);
  }
  say("   結果 results:");
  for (const s of sent) {
    const n = final.get(s.id) ?? (await notification(s.id)).data;
    say(`   ${String(n?.status ?? "?").padEnd(15)} ${String(n?.channel ?? "").padEnd(5)} ${s.route.label}`);
  }
  say(`   看收件匣 see the inboxes: ${base}/sandbox`);
}

async function main() {
  say(`oa-notify demo against ${base}`);
  const health = await fetch(`${base}/sandbox/api/overview`).catch(() => null);
  if (!health?.ok) {
    say(`找不到沙盒伺服器 · no sandbox server at ${base}. Start it first with \`pnpm start\` (or set PORT / PUBLIC_BASE_URL).`);
    process.exit(1);
  }
  await seeded();
  await friendFlow();
  await noticeFlow();
}

/** The server seeds its demo members in the background on its first start: wait for them (up to 2 min) rather than fail. */
async function seeded() {
  for (let i = 0; i < 240; i++) {
    const r = await api.GET("/api/v1/members/{memberId}", { params: { path: { memberId: ROUTES[0]!.memberId } } });
    if (r.response.status === 200) return;
    if (i === 0) say("等待沙盒的示範資料 · waiting for the sandbox's demo members (seeded on first start)…");
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`demo member ${ROUTES[0]!.memberId} not found: was the sandbox's data directory created by another version?`);
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
