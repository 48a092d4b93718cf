// pnpm bench:webhook — our POST /webhook (PostgreSQL, every event durable before the 200) against the SDK's own
// express middleware() answering 200 with no work; same machine, same run, unique signed follow events per request.
// Bar (product.md §9): ours ≥ 0.8× the baseline's requests/s, p99 < 50 ms, every acknowledged event stored.
import { fork } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import pg from "pg";

const SECRET = "bench-channel-secret";
const DURATION = Number(process.env["BENCH_SECONDS"] ?? 10);
const CONNECTIONS = Number(process.env["BENCH_CONNECTIONS"] ?? 32);
const BASE_URL = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";

function startServer(mode: "sdk" | "ours", dbUrl?: string) {
  const child = fork(fileURLToPath(new URL("./webhook-server.ts", import.meta.url)), [mode, SECRET, ...(dbUrl ? [dbUrl] : [])], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise<{ port: number; stop: () => void }>((resolve, reject) => {
    child.once("message", (m: { port: number }) => resolve({ port: m.port, stop: () => child.kill("SIGKILL") }));
    child.once("exit", (code) => reject(new Error(`${mode} server exited ${code}`)));
  });
}

let n = 0;
function signedFollow() {
  const userId = `U${randomBytes(16).toString("hex")}`;
  const body = JSON.stringify({
    destination: "U8e742f61d673b39c7fff3cecb7536ef0",
    events: [
      {
        type: "follow",
        mode: "active",
        timestamp: Date.now(),
        source: { type: "user", userId },
        webhookEventId: `01BENCH${process.pid}${(n++).toString(36).padStart(10, "0")}`,
        deliveryContext: { isRedelivery: false },
        replyToken: randomBytes(16).toString("hex"),
        follow: { isUnblocked: false },
      },
    ],
  });
  return { body, signature: createHmac("sha256", SECRET).update(body).digest("base64") };
}

async function load(port: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [
      {
        method: "POST",
        path: "/webhook",
        setupRequest: (req) => {
          const { body, signature } = signedFollow();
          return { ...req, body, headers: { "content-type": "application/json", "x-line-signature": signature } };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function main() {
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  const dbName = `oa_bench_${randomBytes(4).toString("hex")}`;
  await admin.query(`create database ${dbName}`);
  const u = new URL(BASE_URL);
  u.pathname = `/${dbName}`;
  try {
    const warm = await startServer("sdk");
    await autocannon({ url: `http://127.0.0.1:${warm.port}`, connections: 8, duration: 2, requests: [{ method: "POST", path: "/webhook", setupRequest: (r) => ({ ...r, ...withBody() }) }] });
    warm.stop();

    const sdk = await startServer("sdk");
    const base = await load(sdk.port);
    sdk.stop();

    const ours = await startServer("ours", u.toString());
    const startRows = await count(u.toString());
    const res = await load(ours.port);
    await new Promise((r) => setTimeout(r, 500));
    ours.stop();
    const stored = (await count(u.toString())) - startRows;

    const ratio = res.rps / base.rps;
    const fmt = (x: number) => x.toFixed(0).padStart(7);
    console.log(`\nwebhook benchmark: ${DURATION}s per side, ${CONNECTIONS} connections, unique signed follow events, PostgreSQL`);
    console.log(`                         req/s     p50 ms   p99 ms   2xx      non-2xx  errors`);
    console.log(`SDK middleware (no work) ${fmt(base.rps)}  ${String(base.p50).padStart(7)}  ${String(base.p99).padStart(7)}  ${String(base.ok).padStart(7)}  ${String(base.non2xx).padStart(7)}  ${base.errors}`);
    console.log(`oa-notify /webhook       ${fmt(res.rps)}  ${String(res.p50).padStart(7)}  ${String(res.p99).padStart(7)}  ${String(res.ok).padStart(7)}  ${String(res.non2xx).padStart(7)}  ${res.errors}`);
    console.log(`ratio ours/SDK: ${ratio.toFixed(2)}× (bar ≥ 0.80×); p99 ${res.p99} ms (bar < 50 ms)`);
    console.log(`acknowledged events: ${res.ok}; stored: ${stored} (${stored >= res.ok ? "every acknowledged event durable" : "MISSING EVENTS"})`);
    const pass = ratio >= 0.8 && res.p99 < 50 && stored >= res.ok && res.non2xx === 0;
    console.log(pass ? "PASS" : "BELOW BAR");
  } finally {
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

function withBody() {
  const { body, signature } = signedFollow();
  return { body, headers: { "content-type": "application/json", "x-line-signature": signature } };
}

async function count(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const r = await c.query("select count(*)::int as n from webhook_events");
  await c.end();
  return r.rows[0].n as number;
}

void main();
