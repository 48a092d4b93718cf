// pnpm bench:fleet — one send rate for the whole fleet (docs/decisions/0017-fleet-send-rate.md): 1, 2 and 3
// `pnpm worker` processes (the production bundle, server/dist/worker-main.mjs) on one PostgreSQL at LINE_SEND_RATE
// (BENCH_FLEET_RATE, default 2,000/s), PNP sends against the LINE emulator in its own process with 50 ms latency.
// Bars, against the configured rate: the emulator's busiest 1-second window ≤ 105 %, the achieved rate ≥ 95 %,
// every notice sent once. BENCH_FLEET_SECONDS (default 5) of sends per fleet size; BENCH_FLEET_SIZES (default 1,2,3).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createDb } from "@oa-notify/db";
import { systemClock } from "@oa-notify/server";
import { type IngestItem, ingestNotifications } from "@oa-notify/server/notify/ingest.ts";
import type { EndpointRates } from "@oa-notify/server/sandbox/emulator/rates.ts";
import { adminDb, ask, child, verdict } from "./common.ts";

const RATE = Number(process.env["BENCH_FLEET_RATE"] ?? 2000);
const SECONDS = Number(process.env["BENCH_FLEET_SECONDS"] ?? 5);
const SIZES = (process.env["BENCH_FLEET_SIZES"] ?? "1,2,3").split(",").map(Number);
const CONCURRENCY = Number(process.env["BENCH_FLEET_CONCURRENCY"] ?? Math.ceil(RATE * 0.4));
const WORKER = fileURLToPath(new URL("../../server/dist/worker-main.mjs", import.meta.url));

interface Stats {
  accepted: number;
  duplicates: number;
  rates: Record<string, EndpointRates>;
}

async function fleet(admin: ReturnType<typeof adminDb>, size: number) {
  const n = RATE * SECONDS;
  const users = 2000;
  const emu = await child("./notify-emulator.ts", [String(users), "50"]);
  const url = await admin.temp();
  const database = await createDb({ url });
  for (let i = 0; i < n; i += 10_000) {
    const items: IngestItem[] = Array.from({ length: Math.min(10_000, n - i) }, (_, k) => ({
      index: k,
      value: { phone: emu.msg.phones[(i + k) % users], scenario: "shipping", urgency: "days", text: `您的包裹 #${i + k} 已出貨` },
      hash: "-",
      idempotencyKey: null,
      where: "bench",
    }));
    await ingestNotifications({ db: database.db, clock: systemClock, apiKeyId: "bench", items, batchId: null });
  }
  await database.close();
  const env = {
    ...process.env,
    SANDBOX: "1",
    DATABASE_URL: url,
    LINE_API_BASE_URL: emu.msg.url,
    LINE_CHANNEL_ACCESS_TOKEN: "bench-token",
    LINE_CHANNEL_SECRET: "bench-secret",
    LINE_SEND_RATE: String(RATE),
    WORKER_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: "warn",
  };
  const workers: ChildProcess[] = Array.from({ length: size }, () => spawn(process.execPath, [WORKER], { env, stdio: ["ignore", "ignore", "inherit"] }));
  const t0 = Date.now();
  let stats: Stats = await ask<Stats>(emu.proc, "stats");
  while (stats.accepted < n && Date.now() - t0 < (SECONDS * 4 + 30) * 1000) {
    await sleep(500);
    stats = await ask<Stats>(emu.proc, "stats");
  }
  await Promise.all(workers.map((w) => new Promise((r) => (w.once("exit", r), w.kill("SIGTERM")))));
  emu.proc.kill("SIGTERM");
  const r = stats.rates["pnp"]!;
  if (process.env["BENCH_DEBUG"]) console.log(JSON.stringify(r.perSecond));
  const achieved = (r.requests - 1) / ((r.lastAt - r.firstAt) / 1000);
  return { size, n, stats, peak: r.peakWindow, achieved };
}

export async function benchFleet(): Promise<boolean> {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} missing: run pnpm build first`);
  const admin = adminDb();
  await admin.connect();
  let ok = true;
  try {
    console.log(`fleet rate — ${SIZES.join(", ")} worker processes, LINE_SEND_RATE=${RATE} (the fleet's), ${SECONDS} s of PNP sends each, 50 ms LINE`);
    for (const size of SIZES) {
      const f = await fleet(admin, size);
      const peakPct = (f.peak / RATE) * 100;
      const ratePct = (f.achieved / RATE) * 100;
      console.log(
        `   ${size} worker${size > 1 ? "s" : ""}: ${f.stats.accepted.toLocaleString()} of ${f.n.toLocaleString()} sent, ${f.stats.duplicates} duplicates; busiest 1 s window ${f.peak}; achieved ${Math.round(f.achieved)}/s`,
      );
      ok =
        verdict(
          f.peak <= RATE * 1.05 && f.stats.accepted === f.n && f.stats.duplicates === 0,
          `fleet rate, ${size} worker process${size > 1 ? "es" : ""}, peak`,
          `busiest 1 s window ${peakPct.toFixed(1)} % of the configured ${RATE}/s (bar ≤ 105 %), ${f.stats.duplicates} duplicates`,
        ) && ok;
      ok =
        verdict(
          f.achieved >= RATE * 0.95,
          `fleet rate, ${size} worker process${size > 1 ? "es" : ""}, achieved`,
          `${ratePct.toFixed(1)} % of the configured ${RATE}/s (bar ≥ 95 %)`,
        ) && ok;
    }
  } finally {
    await admin.end();
  }
  return ok;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  void benchFleet().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
