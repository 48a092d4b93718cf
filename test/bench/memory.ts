// pnpm bench:memory — the default embedded server's memory: the production bundle (server/dist/main.mjs, as `pnpm
// start` runs it) on PGlite in sandbox mode, in its own process, RSS read from /proc. Bars: idle < 200 MB; < 300 MB
// through `pnpm demo` and a 10,000-notice batch (BENCH_MEMORY_BATCH). Needs `pnpm build`.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { rssOf, verdict } from "./common.ts";

const SERVER_DIR = fileURLToPath(new URL("../../server/", import.meta.url));
// The node flags and script exactly as `pnpm start` runs them (server/package.json "start").
const START = (JSON.parse(readFileSync(`${SERVER_DIR}package.json`, "utf8")) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1);
const MAIN = `${SERVER_DIR}${START.at(-1)}`;
const DEMO = fileURLToPath(new URL("../../server/src/sandbox/demo.ts", import.meta.url));
const BATCH = Number(process.env["BENCH_MEMORY_BATCH"] ?? 10_000);
const IDLE_SECONDS = Number(process.env["BENCH_MEMORY_IDLE_SECONDS"] ?? 5);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

async function main() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run pnpm build first`);
  const dataDir = mkdtempSync(join(tmpdir(), "oa-bench-memory-"));
  // Two ports in a row: the server's and the sandbox emulator's (PORT + 1).
  let port = await freePort();
  if (port > 65000) port = 40_000 + (port % 20_000);
  const base = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: "warn", PUBLIC_BASE_URL: base };
  delete env["DATABASE_URL"];
  const start = async () => {
    const proc = spawn(process.execPath, START, { cwd: SERVER_DIR, env, stdio: ["ignore", "ignore", "inherit"] });
    for (let i = 0; i < 600; i++) {
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(200);
    }
    return proc;
  };
  // The first start runs initdb; its figure is reported, then the server is restarted as a deployment runs.
  const first = await start();
  await sleep(IDLE_SECONDS * 1000);
  const firstStart = rssOf(first.pid!);
  first.kill("SIGTERM");
  await new Promise((r) => first.once("exit", r));
  console.log(`first start (initdb): ${firstStart.rss.toFixed(0)} MB RSS after it, ${firstStart.hwm.toFixed(0)} MB peak during it`);
  const server = await start();
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(server.pid!).rss);
    } catch {}
  }, 100);
  try {
    await sleep(IDLE_SECONDS * 1000);
    const idle = rssOf(server.pid!).rss;
    console.log(`embedded server (PGlite, sandbox), restarted: ${idle.toFixed(0)} MB RSS idle (peak during start-up ${peak.toFixed(0)} MB)`);
    const demo = spawn(process.execPath, ["--import", "tsx", DEMO], { env, stdio: ["ignore", "ignore", "inherit"] });
    const demoCode = await new Promise<number>((r) => demo.on("exit", (c) => r(c ?? 1)));
    const afterDemo = peak;
    const items = Array.from({ length: BATCH }, (_, i) => ({
      phone: `09${String(12 + (i % 78)).padStart(2, "0")}${String(i).padStart(6, "0")}`,
      scenario: "outage",
      urgency: "days",
      text: `停電通知：12/5 09:00–12:00 您所在區域（#${i % 50}）計畫性停電。Planned outage on 12/5.`,
    }));
    const res = await fetch(`${base}/api/v1/notifications/batch`, {
      method: "POST",
      headers: { authorization: "Bearer sandbox-key", "content-type": "application/json" },
      body: JSON.stringify({ notifications: items }),
    });
    const body = (await res.json()) as { accepted?: number };
    // Let the embedded worker send some of them, as a running server would.
    await sleep(5000);
    const hwm = rssOf(server.pid!).hwm;
    peak = Math.max(peak, hwm);
    console.log(
      `pnpm demo exited ${demoCode}; peak ${afterDemo.toFixed(0)} MB through it; batch of ${BATCH.toLocaleString()}: HTTP ${res.status}, ${body.accepted ?? 0} accepted; peak ${peak.toFixed(0)} MB`,
    );
    verdict(idle < 200, "memory, embedded server idle", `${idle.toFixed(0)} MB RSS on PGlite (bar < 200 MB)`);
    verdict(
      peak < 300 && demoCode === 0 && body.accepted === BATCH,
      "memory, embedded server busy",
      `${peak.toFixed(0)} MB peak RSS through pnpm demo and a ${BATCH.toLocaleString()}-notice batch (bar < 300 MB)`,
    );
  } finally {
    clearInterval(sampler);
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
