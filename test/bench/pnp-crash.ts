// pnpm bench:pnp-crash — how many PNP notices a worker crash leaves ambiguous, against what may really have been on
// the wire (docs/benchmarks.md, docs/states.md "crash window"). A worker in its own process dispatches PNP notices
// (urgency `days`, no SMS) to the LINE emulator (its own process, BENCH_CRASH_LATENCY_MS of latency) at
// BENCH_CRASH_RATE/s and is killed with SIGKILL mid-dispatch, BENCH_CRASHES times (restarted in between). After each
// kill: `ambiguous` = rows whose PNP call marker is committed but no outcome recorded; `never on the wire` = those
// whose delivery tag the emulator never received. The bar: ambiguous ≈ rate × latency (the calls really in flight),
// never on the wire ≈ 0. Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createDb, sql } from "@oa-notify/db";
import { systemClock } from "@oa-notify/server";
import { deliveryTagFor } from "@oa-notify/server/notify/channels/index.ts";
import { type IngestItem, ingestNotifications } from "@oa-notify/server/notify/ingest.ts";
import pg from "pg";

const BASE_URL = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";
const N = Number(process.env["BENCH_CRASH_TOTAL"] ?? 3000);
const RATE = Number(process.env["BENCH_CRASH_RATE"] ?? 200);
const LATENCY_MS = Number(process.env["BENCH_CRASH_LATENCY_MS"] ?? 100);
const CRASHES = Number(process.env["BENCH_CRASH_COUNT"] ?? 3);
const CONCURRENCY = Number(process.env["BENCH_CRASH_CONCURRENCY"] ?? 100);

function child(path: string, args: string[], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; msg: any }> {
  const proc = fork(fileURLToPath(new URL(path, import.meta.url)), args, {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    proc.once("message", (msg) => resolve({ proc, msg }));
    proc.once("exit", (code) => reject(new Error(`${path} exited ${code}`)));
  });
}

function worker(env: Record<string, string>): Promise<ChildProcess> {
  const proc = fork(fileURLToPath(new URL("../src/notify/fixtures/worker-child.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    proc.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve(proc));
    proc.once("exit", (code) => reject(new Error(`worker exited ${code} before ready`)));
  });
}

async function main() {
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  const name = `oa_bench_${randomBytes(4).toString("hex")}`;
  await admin.query(`create database ${name}`);
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const emu = await child("./pnp-crash-emulator.ts", [String(Math.min(N, 2000)), String(LATENCY_MS)]);
  const db = await createDb({ url, poolSize: 4 });
  try {
    console.log(
      `PNP crash window — ${N} notices, rate ${RATE}/s, LINE latency ${LATENCY_MS} ms, concurrency ${CONCURRENCY}, ${CRASHES} crashes; ${cpus().length} CPUs, load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
    );
    for (let i = 0; i < N; i += 1000) {
      const items: IngestItem[] = Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({
        index: k,
        value: { phone: emu.msg.phones[(i + k) % emu.msg.phones.length], scenario: "billing", urgency: "days", text: `帳單 #${i + k}` },
        hash: "-",
        idempotencyKey: null,
        where: "bench",
      }));
      await ingestNotifications({ db: db.db, clock: systemClock, apiKeyId: "bench", items, batchId: null });
    }
    const tags = () =>
      new Promise<string[]>((resolve) => {
        emu.proc.once("message", (m: { tags: string[] }) => resolve(m.tags));
        emu.proc.send({ cmd: "tags" });
      });
    const env = {
      DATABASE_URL: url,
      LINE_API_BASE_URL: emu.msg.url,
      LINE_CHANNEL_ACCESS_TOKEN: "bench-token",
      LEASE_SECONDS: "2",
      RATE: String(RATE),
      CONCURRENCY: String(CONCURRENCY),
    };
    const expected = (RATE * LATENCY_MS) / 1000;
    const rows: { crash: number; ambiguous: number; neverOnWire: number; inFlightAtEmulator: number }[] = [];
    for (let c = 1; c <= CRASHES; c++) {
      const base = (await tags()).length;
      const w = await worker(env);
      // Kill it mid-dispatch at a random moment: once it has sent 100-300 since it started.
      const goal = base + 100 + randomInt(0, 200);
      for (let n = 0; n < goal; n = (await tags()).length) {
        if (process.env["BENCH_DEBUG"]) console.log("sent", n, "goal", goal);
        await sleep(200);
      }
      const exited = new Promise((r) => w.once("exit", r));
      w.kill("SIGKILL");
      await exited;
      await sleep(LATENCY_MS * 4 + 500); // calls cut off by the kill are still answered by the emulator
      const seen = new Set(await tags());
      const amb = await db.query<{ id: string }>(sql`select id from notifications where status = 'queued' and pnp_call_started_at is not null`);
      const never = amb.filter((r) => !seen.has(deliveryTagFor(r.id))).length;
      rows.push({ crash: c, ambiguous: amb.length, neverOnWire: never, inFlightAtEmulator: 0 });
      // A restarted worker settles these (ambiguous → sent) once their lease runs out; it is stopped gracefully
      // (SIGTERM waits for its calls' outcomes), so each crash is counted alone.
      const w2 = await worker(env);
      for (let k = 0; k < 200; k++) {
        const left = await db.query<{ n: string }>(sql`select count(*) as n from notifications where status = 'queued' and pnp_call_started_at is not null`);
        if (Number(left[0]!.n) === 0) break;
        await sleep(100);
      }
      const exited2 = new Promise((r) => w2.once("exit", r));
      w2.kill("SIGTERM");
      await exited2;
    }
    console.log("crash | ambiguous | never on the wire | rate × latency");
    for (const r of rows) console.log(`${r.crash} | ${r.ambiguous} | ${r.neverOnWire} | ${expected.toFixed(1)}`);
    const avg = (f: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + f(r), 0) / rows.length;
    console.log(
      `mean: ambiguous ${avg((r) => r.ambiguous).toFixed(1)} (${(avg((r) => r.ambiguous) / expected).toFixed(2)}× rate × latency), never on the wire ${avg((r) => r.neverOnWire).toFixed(1)}`,
    );
  } finally {
    emu.proc.kill("SIGTERM");
    await db.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

await main();
