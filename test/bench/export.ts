// pnpm bench:export — GET /api/v1/notifications/export of 1,000,000 notifications on PostgreSQL: the server's peak
// RSS while it streams the CSV, against the same process's RSS idle just before (same run, same machine). The
// server is the production bundle (server/dist/main.mjs) in its own process; RSS is read from /proc every 50 ms.
// Bar (docs/benchmarks.md): peak RSS < 300 MB, every row exported.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { ensureServerBundle, freePort, serverDir } from "../src/helpers/process.ts";

const ROWS = Number(process.env["BENCH_EXPORT_ROWS"] ?? 1_000_000);
const BAR_MB = 300;
const BASE_URL = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";
const API_KEY = "bench-export-key-0123456789";

const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function main() {
  const name = `oa_bench_export_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  ensureServerBundle();
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/main.mjs"], {
    cwd: serverDir,
    env: {
      PATH: process.env["PATH"] ?? "",
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: url.toString(),
      SANDBOX: "0",
      LINE_CHANNEL_SECRET: "bench-secret",
      LINE_CHANNEL_ACCESS_TOKEN: "bench-token",
      LINE_API_BASE_URL: "http://127.0.0.1:9",
      LINE_LOGIN_CHANNEL_ID: "1234567890",
      LIFF_ID: "1234567890-bench",
      API_KEYS: API_KEY,
      APP_SECRET: "bench-app-secret-0123456789-0123456789",
      SMS_PROVIDER: "log",
      WORKER_ENABLED: "false",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error("server exited");
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 600) throw new Error("server not ready");
      await sleep(200);
    }
    // The rows, straight in by SQL (migrated by the server): a month of notices, one every ~2.6 s.
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    const t0 = performance.now();
    await db.query(
      `insert into notifications (id, scenario, urgency, content, status, channel, member_id, phone_e164, phone_hash, route, sent_at, delivered_at, created_at, updated_at)
       select gen_random_uuid(), 'shipping', 'day', '{"text":"您的包裹已出貨"}'::jsonb, 'delivered', case when g % 3 = 0 then 'pnp' else 'push' end,
         'member-' || g, '+8869' || lpad((g % 100000000)::text, 8, '0'), md5(g::text), '{"rule":"friend_push"}'::jsonb,
         t, t, t, t
       from generate_series(1, $1::int) g, lateral (select timestamptz '2026-11-01T00:00:00+08:00' + g * interval '2.6 seconds' as t) x`,
      [ROWS],
    );
    await db.query("analyze notifications");
    await db.end();
    console.log(`inserted ${ROWS.toLocaleString()} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Baseline: the same server process, idle, after a warm-up request.
    await fetch(`${base}/api/v1/notifications?limit=1`, { headers: { authorization: `Bearer ${API_KEY}` } }).then((r) => r.arrayBuffer());
    await sleep(500);
    const idle = rssMb(child.pid!);
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(child.pid!));
    }, 50);
    const t1 = performance.now();
    const res = await fetch(`${base}/api/v1/notifications/export?from=2026-11-01&to=2026-12-31&format=csv`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    if (res.status !== 200) throw new Error(`export: ${res.status}`);
    let lines = 0;
    let bytes = 0;
    for await (const chunk of res.body!) {
      const b = chunk as Uint8Array;
      bytes += b.length;
      for (let i = 0; i < b.length; i++) if (b[i] === 10) lines++;
    }
    const secs = (performance.now() - t1) / 1000;
    clearInterval(sampler);
    const rows = lines - 1;
    console.log(
      `export: ${rows.toLocaleString()} rows, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(1)} s (${Math.round(rows / secs).toLocaleString()} rows/s)`,
    );
    console.log(
      `server RSS: idle ${idle.toFixed(0)} MB, peak during export ${peak.toFixed(0)} MB (+${(peak - idle).toFixed(0)} MB, ${(peak / idle).toFixed(2)}× idle); bar < ${BAR_MB} MB`,
    );
    const ok = rows === ROWS && peak < BAR_MB;
    console.log(ok ? "WITHIN BAR" : "BELOW BAR");
    process.exitCode = ok ? 0 : 1;
  } finally {
    child.kill("SIGKILL");
    await sleep(300);
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

void main();
