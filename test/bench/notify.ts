// pnpm bench:notify — the notifier against docs/benchmarks.md, with baselines measured in the same run:
//  1. dispatch: PNP sends against the LINE emulator (own process) with 50 ms added latency, at the configured rate
//     (BENCH_NOTIFY_RATE, default 1,000/s = LINE_SEND_RATE's default); bar ≥ 95 % of it and 0 duplicates.
//  2. ingest: POST /api/v1/notifications/batch (10,000 per request, each notification durable before the 202),
//     BENCH_NOTIFY_TOTAL notifications (default 1,000,000) through a server in its own process, whose peak RSS is
//     read from /proc (bar < 300 MB); rate bar ≥ 5,000/s; baseline: a raw multi-row INSERT of the same rows.
// PostgreSQL: DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test (temporary databases, dropped after).

import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createDb } from "@oa-notify/db";
import { createLineApi, createLogger, loadConfig, systemClock } from "@oa-notify/server";
import { createLogSmsProvider } from "@oa-notify/server/lib/sms/log.ts";
import { type IngestItem, ingestNotifications } from "@oa-notify/server/notify/ingest.ts";
import { createNotifyWorker } from "@oa-notify/server/notify/worker.ts";
import pg from "pg";
import { bundle } from "../../server/scripts/build.mjs";

const BASE_URL = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";
const TOTAL = Number(process.env["BENCH_NOTIFY_TOTAL"] ?? 1_000_000);
const BATCH = 10_000;
const CLIENTS = Number(process.env["BENCH_NOTIFY_CLIENTS"] ?? 3);
const RATE = Number(process.env["BENCH_NOTIFY_RATE"] ?? 1000);
const DISPATCH_SECONDS = Number(process.env["BENCH_DISPATCH_SECONDS"] ?? 20);
const LATENCY_MS = 50;
// Sends in flight must cover rate × the time one send takes end to end (decide + marker commit + 50 ms call +
// outcome commit, ~0.2-0.4 s on a busy 2-core box): Little's law, with head-room.
const CONCURRENCY = Math.ceil(RATE * 0.4);
const API_KEY = "bench-api-key-0123456789";

const admin = new pg.Client({ connectionString: BASE_URL });
const dbs: string[] = [];
async function tempDb(): Promise<string> {
  const name = `oa_bench_${randomBytes(4).toString("hex")}`;
  await admin.query(`create database ${name}`);
  dbs.push(name);
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

function child(script: string, args: string[]): Promise<{ proc: ChildProcess; msg: any }> {
  // A bundled .mjs runs on plain node (as `pnpm start` runs the server); a .ts under tsx.
  const path = script.endsWith(".mjs") ? script : fileURLToPath(new URL(script, import.meta.url));
  const proc = fork(path, args, { execArgv: script.endsWith(".mjs") ? [] : ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    proc.once("message", (msg) => resolve({ proc, msg }));
    proc.once("exit", (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

function rssOf(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

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
  // Migrate once here, so the server's start-up is not in the measurement.
  const db = await createDb({ url });
  await db.close();
  // The server side is bundled like the production server (server/scripts/build.mjs), so its RSS is what a
  // deployment sees, not tsx's: the bundle sits in server/dist to resolve the same node_modules.
  const serverBundle = fileURLToPath(new URL("../../server/dist/bench-notify-server.mjs", import.meta.url));
  await bundle(fileURLToPath(new URL("./notify-server.ts", import.meta.url)), serverBundle);
  const { proc, msg } = await child(serverBundle, [url, API_KEY]);
  const pid = proc.pid!;
  const idle = rssOf(pid);
  let peak = idle.rss;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid).rss)), 100);
  const requests = Math.ceil(TOTAL / BATCH);
  let next = 0;
  let accepted = 0;
  let rejected = 0;
  let maxLatency = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < requests) {
      const k = next++;
      const body = batchBody(k);
      const s = performance.now();
      const res = await fetch(`http://127.0.0.1:${msg.port}/api/v1/notifications/batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body,
      });
      const j = (await res.json()) as { accepted?: number; rejected?: number };
      if (res.status !== 202) throw new Error(`batch ${k}: HTTP ${res.status} ${JSON.stringify(j).slice(0, 300)}`);
      maxLatency = Math.max(maxLatency, performance.now() - s);
      accepted += j.accepted ?? 0;
      rejected += j.rejected ?? 0;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, lane));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const hwm = rssOf(pid).hwm;
  proc.kill("SIGTERM");
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const stored = Number((await c.query("select count(*) as n from notifications")).rows[0].n);
  const events = Number((await c.query("select count(*) as n from notification_events")).rows[0].n);

  // Baseline: the same rows (read back from what the server stored, new ids) by a raw multi-row INSERT.
  const sample = (await c.query("select * from notifications limit 100000")).rows;
  await c.end();
  const baseUrl = await tempDb();
  const bdb = await createDb({ url: baseUrl });
  await bdb.close();
  const b = new pg.Client({ connectionString: baseUrl });
  await b.connect();
  const cols = Object.keys(sample[0]);
  const PER_STATEMENT = Math.floor(60_000 / cols.length);
  const tb = performance.now();
  for (let i = 0; i < sample.length; i += BATCH) {
    await b.query("begin");
    for (let j = i; j < Math.min(i + BATCH, sample.length); j += PER_STATEMENT) {
      const rows = sample.slice(j, Math.min(j + PER_STATEMENT, i + BATCH, sample.length));
      const params: unknown[] = [];
      const tuples = rows.map(
        (r) => `(${cols.map((col) => (params.push(col === "id" ? randomUUID() : col === "idempotency_key" ? null : r[col]), `$${params.length}`)).join(",")})`,
      );
      await b.query(`insert into notifications (${cols.join(",")}) values ${tuples.join(",")}`, params);
    }
    await b.query("commit");
  }
  const baseSeconds = (performance.now() - tb) / 1000;
  await b.end();
  return {
    seconds,
    accepted,
    rejected,
    stored,
    events,
    rate: accepted / seconds,
    idle: idle.rss,
    peak: Math.max(peak, hwm),
    maxLatency,
    baseRate: sample.length / baseSeconds,
    baseRows: sample.length,
  };
}

async function dispatch() {
  const n = RATE * DISPATCH_SECONDS;
  const users = 2000;
  const { proc, msg } = await child("./notify-emulator.ts", [String(users), String(LATENCY_MS)]);
  const url = await tempDb();
  const database = await createDb({ url, poolSize: 20 });
  const config = loadConfig({
    SANDBOX: "1",
    LOG_LEVEL: "warn",
    PORT: "0",
    LINE_SEND_RATE: String(RATE),
    WORKER_CONCURRENCY: process.env["BENCH_NOTIFY_CONCURRENCY"] ?? String(CONCURRENCY),
  });
  // Rows in place before the clock starts (ingest is measured above); urgency `days`: no SMS in the way.
  for (let i = 0; i < n; i += BATCH) {
    const items: IngestItem[] = Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => ({
      index: k,
      value: { phone: msg.phones[(i + k) % users], scenario: "shipping", urgency: "days", text: `您的包裹 #${i + k} 已出貨` },
      hash: "-",
      idempotencyKey: null,
      where: "bench",
    }));
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
  const marks: Record<string, number> = {};
  const t0 = performance.now();
  worker.start();
  while (worker.counts.pnp < n) {
    const c = worker.counts.pnp;
    if (c >= 1 && !marks["first"]) marks["first"] = performance.now();
    if (c >= n * 0.1 && !marks["p10"]) marks["p10"] = performance.now();
    if (c >= n * 0.9 && !marks["p90"]) marks["p90"] = performance.now();
    await sleep(5);
  }
  const seconds = (performance.now() - t0) / 1000;
  marks["p90"] ??= performance.now();
  await worker.stop();
  const steady = (n * 0.8) / ((marks["p90"]! - marks["p10"]!) / 1000);
  if (process.env["BENCH_DEBUG"]) console.log({ first: marks["first"]! - t0, p10: marks["p10"]! - t0, p90: marks["p90"]! - t0, end: seconds * 1000 });
  const emu = await new Promise<{ accepted: number; tags: number; duplicates: number }>((resolve) => {
    proc.once("message", resolve as never);
    proc.send({ cmd: "stats" });
  });
  const [st] = await database.query<{ sent: string; other: string }>(
    (await import("@oa-notify/db"))
      .sql`select count(*) filter (where status = 'sent') as sent, count(*) filter (where status <> 'sent') as other from notifications`,
  );
  proc.kill("SIGTERM");
  await database.close();
  return { n, seconds, rate: n / seconds, steady, concurrency: config.workerConcurrency, emu, sent: Number(st!.sent), other: Number(st!.other) };
}

async function main() {
  await admin.connect();
  try {
    const cpus = (await import("node:os")).cpus().length;
    console.log(`notify benchmark — PostgreSQL ${BASE_URL.replace(/\/\/[^@]*@/, "//")}, ${cpus} CPUs, node ${process.version}`);
    // Dispatch first: after a million-row ingest PostgreSQL is busy for a while (autovacuum, checkpoints).
    const d = await dispatch();
    console.log(
      `\n1. dispatch: ${d.n.toLocaleString()} PNP sends against the emulator with ${LATENCY_MS} ms latency, configured rate ${RATE}/s, concurrency ${d.concurrency}`,
    );
    console.log(
      `   ${Math.round(d.rate)} sends/s overall (${((d.rate / RATE) * 100).toFixed(1)} % of configured; bar ≥ 95 %), steady (10 %→90 %) ${Math.round(d.steady)}/s (${((d.steady / RATE) * 100).toFixed(1)} %)`,
    );
    console.log(
      `   emulator accepted ${d.emu.accepted.toLocaleString()} for ${d.emu.tags.toLocaleString()} delivery tags; duplicates: ${d.emu.duplicates}; rows sent: ${d.sent.toLocaleString()}, other: ${d.other}`,
    );
    const i = await ingest();
    console.log(
      `\n2. ingest: ${i.accepted.toLocaleString()} notifications in ${Math.ceil(TOTAL / BATCH)} batch requests of ${BATCH.toLocaleString()}, ${CLIENTS} concurrent clients`,
    );
    console.log(
      `   ${Math.round(i.rate).toLocaleString()} notifications/s in ${i.seconds.toFixed(1)} s (bar ≥ 5,000/s); slowest 202: ${Math.round(i.maxLatency)} ms`,
    );
    console.log(
      `   durable: ${i.stored.toLocaleString()} rows + ${i.events.toLocaleString()} timeline entries stored for ${i.accepted.toLocaleString()} accepted, ${i.rejected} rejected`,
    );
    console.log(
      `   baseline raw multi-row INSERT of the same rows (${i.baseRows.toLocaleString()}, no timeline, no validation): ${Math.round(i.baseRate).toLocaleString()} rows/s → ours ${(i.rate / i.baseRate).toFixed(2)}× of it`,
    );
    console.log(
      `   server RSS: ${i.idle.toFixed(0)} MB idle, peak ${i.peak.toFixed(0)} MB during the ${i.accepted.toLocaleString()}-notification run (bar < 300 MB)`,
    );
    const pass = i.rate >= 5000 && i.stored === i.accepted && i.peak < 300 && d.rate / RATE >= 0.95 && d.emu.duplicates === 0 && d.emu.accepted === d.n;
    console.log(pass ? "\nPASS" : "\nBELOW BAR");
  } finally {
    for (const name of dbs) await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
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
