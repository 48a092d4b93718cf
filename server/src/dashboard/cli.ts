import { createClient, type OaNotifyClient } from "@oa-notify/client";

/**
 * `pnpm stats`: the dashboard's numbers in a terminal, read from a running server's API (the same endpoints as the
 * page, so there is one implementation of every figure) through the typed client generated from the API's OpenAPI
 * document (@oa-notify/client, docs/api.md). Pure apart from the injected fetch and output. A read-only key
 * (API_KEYS_READONLY) is enough: it only reads.
 */
const DAY = 86_400_000;
const TAIPEI = 8 * 3_600_000; // Asia/Taipei: UTC+8, no DST

export const USAGE = `用法 usage: pnpm stats [today|7d|30d] [--from ISO --to ISO] [--member <memberId>] [--json] [--url URL] [--key KEY]
  today|7d|30d   Asia/Taipei calendar days, today included (default: today)
  --member ID    why did member ID get an SMS? (latest notifications, route rule, fallback reason)
  --json         the API's JSON as is
  --url, --key   server and API key (default: PUBLIC_BASE_URL and the first of API_KEYS)`;

export interface CliArgs {
  days: number;
  from?: string;
  to?: string;
  member?: string;
  json: boolean;
  url?: string;
  key?: string;
}

export function parseArgs(argv: string[]): CliArgs | { error: string } {
  const a: CliArgs = { days: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new Error(`${x} needs a value`);
      return v;
    };
    try {
      if (x === "--") continue;
      else if (x === "today") a.days = 1;
      else if (/^\d+d$/.test(x) && Number(x.slice(0, -1)) >= 1 && Number(x.slice(0, -1)) <= 366) a.days = Number(x.slice(0, -1));
      else if (x === "--json") a.json = true;
      else if (x === "--from") a.from = value();
      else if (x === "--to") a.to = value();
      else if (x === "--member") a.member = value();
      else if (x === "--url") a.url = value();
      else if (x === "--key") a.key = value();
      else return { error: `unknown argument: ${x}` };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  return a;
}

/** [from, to) covering the last `days` Asia/Taipei calendar days, today included. */
export function taipeiPeriod(days: number, now: Date): { from: Date; to: Date } {
  const todayStart = Math.floor((now.getTime() + TAIPEI) / DAY) * DAY - TAIPEI;
  return { from: new Date(todayStart - (days - 1) * DAY), to: new Date(todayStart + DAY) };
}

const taipeiDay = (d: Date) => new Date(d.getTime() + TAIPEI).toISOString().slice(0, 10);
const taipeiTime = (iso: string | null) => (iso ? new Date(Date.parse(iso) + TAIPEI).toISOString().slice(0, 19).replace("T", " ") : "–");
const pct = (x: number) => `${(Math.round(x * 1000) / 10).toFixed(1)}%`;
const twd = (x: number) => `NT$${x.toFixed(2)}`;
/** Display width: CJK and full-width forms take two columns in a terminal. */
const width = (s: string) =>
  [...s].reduce((w, c) => w + (/[\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(c) ? 2 : 1), 0);
const pad = (s: string, n: number) => s + " ".repeat(Math.max(0, n - width(s)));

export interface CliIo {
  fetch: typeof fetch;
  out: (line: string) => void;
  now: () => Date;
  baseUrl: string;
  apiKey: string;
}

class CliError extends Error {
  override name = "CliError";
}

/** One call of the typed client: its data, or a CliError in words for the operator. */
async function must<T>(
  io: CliIo,
  label: string,
  call: Promise<{ data?: T; error?: { error?: { message?: string } } | unknown; response: Response }>,
): Promise<T> {
  let r: Awaited<typeof call>;
  try {
    r = await call;
  } catch (e) {
    throw new CliError(`無法連線 cannot reach ${io.baseUrl} (${(e as Error).message}); is the server running?`);
  }
  if (r.response.status === 401) throw new CliError("API 金鑰無效 the API key was refused (401): pass --key or set API_KEYS");
  if (r.data === undefined) throw new CliError(`${label} → ${r.response.status} ${(r.error as { error?: { message?: string } })?.error?.message ?? ""}`.trim());
  return r.data;
}

/** Runs the command; returns the process exit code. */
export async function runStatsCli(argv: string[], io: CliIo): Promise<number> {
  const a = parseArgs(argv);
  if ("error" in a) {
    io.out(`${a.error}\n${USAGE}`);
    return 2;
  }
  const client = createClient({ baseUrl: io.baseUrl, apiKey: io.apiKey, fetch: io.fetch });
  try {
    if (a.member) await member(io, client, a.member, a.json);
    else await stats(io, client, a);
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      io.out(e.message);
      return 1;
    }
    throw e;
  }
}

async function stats(io: CliIo, client: OaNotifyClient, a: CliArgs) {
  const p = taipeiPeriod(a.days, io.now());
  const from = a.from ?? p.from.toISOString();
  const to = a.to ?? p.to.toISOString();
  const s = await must(io, "/stats", client.GET("/api/v1/stats", { params: { query: { from, to } } }));
  if (a.json) {
    io.out(JSON.stringify(s, null, 2));
    return;
  }
  const f = s.funnel;
  const share = (n: number) => (f.accepted ? pct(n / f.accepted) : "–");
  const L = 40;
  io.out(
    `oa-notify 統計 stats · ${a.from || a.to ? `${s.from} – ${s.to}` : `${taipeiDay(new Date(s.from))} – ${taipeiDay(new Date(Date.parse(s.to) - 1))} (Asia/Taipei)`}`,
  );
  io.out("");
  io.out("投遞漏斗 Delivery funnel");
  for (const [label, n] of [
    ["已受理 accepted", f.accepted],
    ["已送出 sent", f.sent],
    ["  LINE 已送達 delivered by LINE", f.delivered],
    ["  簡訊 sent by SMS", f.smsSent],
    ["  未送達 undelivered (24 h)", f.undelivered],
    ["  失敗 failed", f.failed],
    ["  已取消 cancelled", f.cancelled],
    ["  處理中 in progress", f.pending],
  ] as [string, number][])
    io.out(`  ${pad(label, L)} ${String(n).padStart(8)}  ${share(n).padStart(6)}`);
  io.out("");
  io.out("管道分布 Channel split");
  const channels = Object.entries(s.byChannel).sort((x, y) => y[1].total - x[1].total);
  if (channels.length === 0) io.out("  (此期間沒有通知 no notifications in this period)");
  for (const [ch, v] of channels) {
    const states = Object.entries(v.states)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    io.out(`  ${pad(ch, L)} ${String(v.total).padStart(8)}  ${(s.total ? pct(v.total / s.total) : "–").padStart(6)}  ${states}`);
  }
  io.out(`  ${pad("簡訊備援率 fallback rate", L)} ${pct(s.fallback.rate).padStart(8)}  (${s.fallback.fellBackToSms}/${s.fallback.lineRouted})`);
  io.out(`  ${pad("晚到的 LINE 投遞 late deliveries", L)} ${String(s.deliveredLate).padStart(8)}`);
  io.out("");
  io.out("費用 Cost");
  const c = s.costTwd;
  for (const [label, v] of [
    ["LINE 推播 push", c.push],
    ["通知型訊息 PNP", c.pnp],
    ["簡訊 SMS", c.sms],
    ["合計 total spent", c.total],
    ["若全部用簡訊 had all gone by SMS", s.allSmsCostTwd],
  ] as [string, number][])
    io.out(`  ${pad(label, L)} ${twd(v).padStart(12)}`);
  io.out(`  ${pad("節省 saved", L)} ${twd(s.savedTwd).padStart(12)}${s.allSmsCostTwd > 0 ? `  (${pct(s.savedTwd / s.allSmsCostTwd)})` : ""}`);
  io.out("");
  io.out("好友 Friends");
  const fr = s.friends;
  for (const [label, n] of [
    ["期間新增好友 gained in period", fr.gainedInPeriod],
    ["來自加好友提示 from add-friend prompts", fr.conversionsFromPrompts],
    ["期間封鎖 blocked in period", fr.lostInPeriod],
    ["目前好友總數 friends now", fr.total],
  ] as [string, number][])
    io.out(`  ${pad(label, L)} ${String(n).padStart(8)}`);
}

async function member(io: CliIo, client: OaNotifyClient, memberId: string, json: boolean) {
  const list = await must(io, "/notifications", client.GET("/api/v1/notifications", { params: { query: { memberId } } }));
  // The fallback reason lives in the timeline: fetch the details of the notices that went by SMS.
  const details = new Map<string, any>();
  for (const n of list.notifications)
    if (n.smsSentAt || n.status === "fallback_sms")
      details.set(n.id, await must(io, `/notifications/${n.id}`, client.GET("/api/v1/notifications/{id}", { params: { path: { id: n.id } } })));
  if (json) {
    io.out(JSON.stringify({ ...list, details: Object.fromEntries(details) }, null, 2));
    return;
  }
  const sms = list.notifications.filter((n) => n.smsSentAt).length;
  io.out(`會員 member ${memberId}: 最近 ${list.notifications.length} 則 latest, ${sms} 則發了簡訊 sent by SMS`);
  for (const n of list.notifications) {
    io.out("");
    io.out(
      `  ${taipeiTime(n.createdAt)}  ${n.scenario}/${n.urgency}  ${n.channel ?? "undecided"}  ${n.status}  SMS: ${n.smsSentAt ? `yes ${taipeiTime(n.smsSentAt)}` : "no"}`,
    );
    io.out(`    路由 route: ${n.rule ?? "–"}`);
    const d = details.get(n.id);
    if (d) {
      const has = (t: any) => t.detail?.reason;
      const fb =
        d.timeline.find((t: any) => t.state === "fallback_sms" && has(t)) ??
        d.timeline.find((t: any) => t.state === "rerouted" && has(t) && t.detail.to === "sms");
      io.out(`    為什麼發簡訊 why SMS: ${fb ? fb.detail.reason : (d.route?.rule ?? "–")}`);
      io.out(`    時間軸 timeline: ${d.timeline.map((t: any) => `${taipeiTime(t.at).slice(11)} ${t.state}`).join(" → ")}`);
    }
    io.out(`    id ${n.id}`);
  }
}
