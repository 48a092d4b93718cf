// pnpm bench:notify — the notifier against docs/benchmarks.md, with baselines measured in the same run:
//  1. dispatch: push and PNP sends at once against the LINE emulator (own process) with 50 ms added latency, each at
//     the configured rate (BENCH_NOTIFY_RATE, default LINE's 2,000/s per endpoint) for BENCH_DISPATCH_SECONDS;
//     bar ≥ 95 % of it on each endpoint (as the emulator saw the requests) and 0 duplicates.
//  2. ingest: POST /api/v1/notifications/batch (10,000 per request, each notification durable before the 202),
//     BENCH_NOTIFY_TOTAL notifications (default 1,000,000) through a server in its own process, whose peak RSS is
//     read from /proc (bar < 200 MB); bar ≥ 0.9× a raw multi-row INSERT of the same rows in the same run.
// PostgreSQL: DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test (temporary databases, dropped after).

import { randomInt, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createDb } from "@oa-notify/db";
import { createLineApi, createLogger, loadConfig, systemClock } from "@oa-notify/server";
import { createLogSmsProvider } from "@oa-notify/server/lib/sms/log.ts";
import { type IngestItem, ingestNotifications } from "@oa-notify/server/notify/ingest.ts";
import { createNotifyWorker } from "@oa-notify/server/notify/worker.ts";
import type { EndpointRates } from "@oa-notify/server/sandbox/emulator/rates.ts";
import pg from "pg";
import { bundle } from "../../server/scripts/build.mjs";
import { adminDb, ask, BASE_URL, child, rssOf, startFlags, verdict } from "./common.ts";

const TOTAL = Number(process.env["BENCH_NOTIFY_TOTAL"] ?? 1_000_000);
const BATCH = 10_000;
const RATE = Number(process.env["BENCH_NOTIFY_RATE"] ?? 2000);
const DISPATCH_SECONDS = Number(process.env["BENCH_DISPATCH_SECONDS"] ?? 20);
const LATENCY_MS = 50;
// Sends in flight must cover rate × the time one send takes end to end (decide + marker commit + 50 ms call +
// outcome commit, ~0.2-0.4 s on a busy 2-core box): Little's law, with head-room.
const CONCURRENCY = Math.ceil(RATE * 0.4);
const API_KEY = "bench-api-key-0123456789";

const admin = adminDb();
const tempDb = () => admin.temp();

const phone = () => `09${randomInt(12, 90)}${String(randomInt(0, 1_000_000)).padStart(6, "0")}`;
function batchBody(k: number): string {
  const items = Array.from({ length: BATCH }, (_, i) => ({
    phone: phone(),
    scenario: "billing",
    urgency: "day",
    text: `您的 11 月帳單 NT$${(k * BATCH + i) % 5000} 元，繳費期限 12/15。Your November bill is ready.`,
    // No nextStep: a next step must be a record owned by the recipient member (issue 10), and these are phone-only.
  }));
  return JSON.stringify({ notifications: items });
}

async function ingest() {
  const url = await tempDb();
  const baseUrl = await tempDb();
  // Migrate once here, so the server's start-up is not in the measurement.
  for (const u of [url, baseUrl]) await (await createDb({ url: u })).close();
  // The server side is bundled like the production server (server/scripts/build.mjs) and run with `pnpm start`'s
  // node flags, so its RSS is what a deployment sees, not tsx's: the bundle sits in server/dist to resolve the same
  // node_modules.
  const serverBundle = fileURLToPath(new URL("../../server/dist/bench-notify-server.mjs", import.meta.url));
  await bundle(fileURLToPath(new URL("./notify-server.ts", import.meta.url)), serverBundle);
  const { proc, msg } = await child(serverBundle, [url, API_KEY], undefined, startFlags());
  const pid = proc.pid!;
  const idle = rssOf(pid);
  let peak = idle.rss;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid).rss)), 100);
  const requests = Math.ceil(TOTAL / BATCH);
  const c = new pg.Client({ connectionString: url });
  const b = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  await b.connect();
  let accepted = 0;
  let rejected = 0;
  let maxLatency = 0;
  let ours = 0;
  let base = 0;
  let cols: string[] = [];
  // Alternating, request by request: our batch of 10,000 through HTTP (parse, validate, spool, route, rows and
  // timeline, durable before the 202), then the same rows (read back, new ids) by a raw multi-row INSERT into a
  // database of the same schema, one transaction, no timeline, no validation. The ratio is of the summed times.
  for (let k = 0; k < requests; k++) {
    const body = batchBody(k);
    const s = performance.now();
    const res = await fetch(`http://127.0.0.1:${msg.port}/api/v1/notifications/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body,
    });
    const j = (await res.json()) as { accepted?: number; rejected?: number; batchId?: string };
    if (res.status !== 202) throw new Error(`batch ${k}: HTTP ${res.status} ${JSON.stringify(j).slice(0, 300)}`);
    const took = performance.now() - s;
    ours += took;
    maxLatency = Math.max(maxLatency, took);
    accepted += j.accepted ?? 0;
    rejected += j.rejected ?? 0;
    const rows = (await c.query("select * from notifications where batch_id = $1", [j.batchId])).rows;
    cols = Object.keys(rows[0]);
    const perStatement = Math.floor(60_000 / cols.length);
    const tb = performance.now();
    await b.query("begin");
    for (let i = 0; i < rows.length; i += perStatement) {
      const params: unknown[] = [];
      const tuples = rows
        .slice(i, i + perStatement)
        .map(
          (r) =>
            `(${cols.map((col) => (params.push(col === "id" ? randomUUID() : col === "idempotency_key" ? null : r[col]), `$${params.length}`)).join(",")})`,
        );
      await b.query(`insert into notifications (${cols.join(",")}) values ${tuples.join(",")}`, params);
    }
    await b.query("commit");
    base += performance.now() - tb;
  }
  clearInterval(sampler);
  const hwm = rssOf(pid).hwm;
  proc.kill("SIGTERM");
  const stored = Number((await c.query("select count(*) as n from notifications")).rows[0].n);
  const events = Number((await c.query("select count(*) as n from notification_events")).rows[0].n);
  const baseRows = Number((await b.query("select count(*) as n from notifications")).rows[0].n);
  await c.end();
  await b.end();
  return {
    seconds: ours / 1000,
    accepted,
    rejected,
    stored,
    events,
    rate: accepted / (ours / 1000),
    idle: idle.rss,
    peak: Math.max(peak, hwm),
    maxLatency,
    baseRate: baseRows / (base / 1000),
    baseRows,
  };
}

async function dispatch() {
  const n = RATE * DISPATCH_SECONDS; // per endpoint
  const users = 2000;
  const { proc, msg } = await child("./notify-emulator.ts", [String(users), String(LATENCY_MS), String(users)]);
  const url = await tempDb();
  const database = await createDb({ url, poolSize: 20 });
  const config = loadConfig({
    SANDBOX: "1",
    LOG_LEVEL: "warn",
    PORT: "0",
    LINE_SEND_RATE: String(RATE),
    WORKER_CONCURRENCY: process.env["BENCH_NOTIFY_CONCURRENCY"] ?? String(CONCURRENCY * 2),
  });
  // Friends for push: members bound to the emulator's friends (as the webhook and binding would leave them).
  const friendIds = msg.friendIds as string[];
  await database.exec("insert into line_users (user_id, friend) select unnest($1::text[]), true", [friendIds]);
  await database.exec("insert into members (member_id, line_user_id, bound_at) select 'f-' || u, u, now() from unnest($1::text[]) u", [friendIds]);
  // Rows in place before the clock starts (ingest is measured below); urgency `days`: no SMS in the way. Push and
  // PNP rows interleaved, so both endpoints are busy at once.
  for (let i = 0; i < n; i += BATCH / 2) {
    const items: IngestItem[] = Array.from({ length: Math.min(BATCH / 2, n - i) * 2 }, (_, k) => {
      const j = i + (k >> 1);
      const value =
        k % 2 === 0
          ? { phone: msg.phones[j % users], scenario: "shipping", urgency: "days" as const, text: `您的包裹 #${j} 已出貨` }
          : { memberId: `f-${friendIds[j % users]}`, scenario: "shipping", urgency: "days" as const, text: `您的包裹 #${j} 已到店` };
      return { index: k, value, hash: "-", idempotencyKey: null, where: "bench" };
    });
    await ingestNotifications({ db: database.db, clock: systemClock, apiKeyId: "bench", items, batchId: null });
  }
  const worker = createNotifyWorker(
    {
      db: database,
      line: createLineApi({ baseUrl: msg.url, channelAccessToken: "bench-token" }),
      sms: createLogSmsProvider(),
      clock: systemClock,
      logger: createLogger("warn"),
      config,
    },
    { pollMs: 20 },
  );
  const t0 = performance.now();
  worker.start();
  const deadline = t0 + (DISPATCH_SECONDS * 4 + 30) * 1000;
  while ((worker.counts.pnp < n || worker.counts.push < n) && performance.now() < deadline) await sleep(5);
  const seconds = (performance.now() - t0) / 1000;
  await worker.stop();
  const emu = await ask<{ accepted: number; tags: number; duplicates: number; rates: Record<string, EndpointRates> }>(proc, "stats");
  const [st] = await database.exec<{ sent: string; delivered: string; other: string }>(
    "select count(*) filter (where status = 'sent') as sent, count(*) filter (where status = 'delivered') as delivered, count(*) filter (where status not in ('sent', 'delivered')) as other from notifications",
    [],
  );
  proc.kill("SIGTERM");
  await database.close();
  // Each endpoint's achieved rate: its requests between its first and last accepted one, as LINE saw them.
  const achieved = (r: EndpointRates) => (r.requests - 1) / Math.max(0.001, (r.lastAt - r.firstAt) / 1000);
  return {
    n,
    seconds,
    push: achieved(emu.rates["push"]!),
    pnp: achieved(emu.rates["pnp"]!),
    peaks: { push: emu.rates["push"]!.peakWindow, pnp: emu.rates["pnp"]!.peakWindow },
    concurrency: config.workerConcurrency,
    emu,
    sent: Number(st!.sent),
    delivered: Number(st!.delivered),
    other: Number(st!.other),
  };
}

async function main() {
  await admin.connect();
  try {
    const cpus = (await import("node:os")).cpus().length;
    console.log(`notify benchmark — PostgreSQL ${BASE_URL.replace(/\/\/[^@]*@/, "//")}, ${cpus} CPUs, node ${process.version}`);
    // Dispatch first: after a big ingest PostgreSQL is busy for a while (autovacuum, checkpoints).
    const d = await dispatch();
    console.log(
      `\n1. dispatch: ${d.n.toLocaleString()} push + ${d.n.toLocaleString()} PNP sends at once against the emulator (own process, ${LATENCY_MS} ms latency), LINE_SEND_RATE=${RATE} per endpoint, concurrency ${d.concurrency}`,
    );
    console.log(
      `   push ${Math.round(d.push)}/s, PNP ${Math.round(d.pnp)}/s (first to last accepted request); busiest 1 s windows ${d.peaks.push} / ${d.peaks.pnp}; ${d.seconds.toFixed(1)} s in all`,
    );
    console.log(
      `   emulator accepted ${d.emu.accepted.toLocaleString()}; duplicates (PNP tag or push retry key): ${d.emu.duplicates}; rows delivered (push) ${d.delivered.toLocaleString()}, sent (PNP) ${d.sent.toLocaleString()}, other ${d.other}`,
    );
    const complete = d.emu.accepted === 2 * d.n && d.emu.duplicates === 0;
    verdict(
      d.push >= RATE * 0.95 && complete,
      "dispatch push",
      `${((d.push / RATE) * 100).toFixed(1)} % of ${RATE}/s while PNP sends too (bar ≥ 95 %), ${d.emu.duplicates} duplicates`,
    );
    verdict(
      d.pnp >= RATE * 0.95 && complete,
      "dispatch PNP",
      `${((d.pnp / RATE) * 100).toFixed(1)} % of ${RATE}/s while push sends too (bar ≥ 95 %), ${d.emu.duplicates} duplicates`,
    );
    const i = await ingest();
    console.log(
      `\n2. ingest: ${i.accepted.toLocaleString()} notifications in ${Math.ceil(TOTAL / BATCH)} batch requests of ${BATCH.toLocaleString()}, each followed by the baseline's INSERT of its rows`,
    );
    console.log(`   ${Math.round(i.rate).toLocaleString()} notifications/s in ${i.seconds.toFixed(1)} s; slowest 202: ${Math.round(i.maxLatency)} ms`);
    console.log(
      `   durable: ${i.stored.toLocaleString()} rows + ${i.events.toLocaleString()} timeline entries stored for ${i.accepted.toLocaleString()} accepted, ${i.rejected} rejected`,
    );
    console.log(
      `   baseline raw multi-row INSERT of the same rows (${i.baseRows.toLocaleString()}, no timeline, no validation): ${Math.round(i.baseRate).toLocaleString()} rows/s`,
    );
    console.log(`   server RSS: ${i.idle.toFixed(0)} MB idle, peak ${i.peak.toFixed(0)} MB during the ${i.accepted.toLocaleString()}-notification run`);
    verdict(
      i.rate >= i.baseRate * 0.9 && i.stored === i.accepted,
      "batch ingest",
      `${(i.rate / i.baseRate).toFixed(2)}× a raw multi-row INSERT of the same rows (${Math.round(i.rate).toLocaleString()} vs ${Math.round(i.baseRate).toLocaleString()} rows/s, bar ≥ 0.9×), ${i.stored.toLocaleString()}/${i.accepted.toLocaleString()} stored`,
    );
    verdict(
      i.peak < 200,
      "memory, batch on PostgreSQL",
      `${i.peak.toFixed(0)} MB peak RSS through ${i.accepted.toLocaleString()} notifications (bar < 200 MB; idle ${i.idle.toFixed(0)} MB)`,
    );
  } finally {
    await admin.end();
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
