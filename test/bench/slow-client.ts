// pnpm bench:slow-client — other requests' latency while clients trickle batch bodies (docs/benchmarks.md, finding 1
// in docs/threat-model.md). The server runs in its own process on PGlite (the default; its transaction is
// process-wide) and, with BENCH_SLOW_DATABASE_URL, on PostgreSQL. Per round: /readyz, a 404 from the API, a signed
// webhook and a 2-item batch, one after the other. Phase A measures rounds alone; phase B the same while
// BENCH_SLOW_CLIENTS clients each send a batch's headers and then one item every 500 ms. The figure: B / A.
import { fork } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const SECRET = "bench-secret-0123456789";
const API_KEY = "bench-api-key-0123456789";
const ROUNDS = Number(process.env["BENCH_SLOW_ROUNDS"] ?? 150);
const SLOW = Number(process.env["BENCH_SLOW_CLIENTS"] ?? 4);

async function server(dbUrl: string | undefined): Promise<{ port: number; stop(): void }> {
  const proc = fork(fileURLToPath(new URL("./slow-client-server.ts", import.meta.url)), [SECRET, API_KEY, dbUrl ?? ""], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const msg = await new Promise<{ port: number }>((resolve, reject) => {
    proc.once("message", resolve as never);
    proc.once("exit", (c) => reject(new Error(`server exited ${c}`)));
  });
  return { port: msg.port, stop: () => proc.kill("SIGKILL") };
}

let seq = 0;
const item = () => ({ phone: `0912${String(100000 + (seq++ % 800000)).padStart(6, "0")}`, scenario: "shipping", urgency: "day", text: "出貨通知" });

async function round(base: string): Promise<number[]> {
  const t = async (f: () => Promise<Response>, want: number) => {
    const s = performance.now();
    const r = await f();
    await r.arrayBuffer();
    if (r.status !== want) throw new Error(`status ${r.status}, want ${want}`);
    return performance.now() - s;
  };
  const body = JSON.stringify({
    destination: "Ubench",
    events: [
      {
        type: "follow",
        mode: "active",
        timestamp: Date.now(),
        webhookEventId: randomBytes(13).toString("hex"),
        source: { type: "user", userId: `U${randomBytes(16).toString("hex")}` },
        deliveryContext: { isRedelivery: false },
      },
    ],
  });
  const sig = createHmac("sha256", SECRET).update(body).digest("base64");
  return [
    await t(() => fetch(`${base}/readyz`), 200),
    await t(() => fetch(`${base}/api/v1/members/nobody`, { headers: { authorization: `Bearer ${API_KEY}` } }), 404),
    await t(() => fetch(`${base}/webhook`, { method: "POST", headers: { "content-type": "application/json", "x-line-signature": sig }, body }), 200),
    await t(
      () =>
        fetch(`${base}/api/v1/notifications/batch`, {
          method: "POST",
          headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ notifications: [item(), item()] }),
        }),
      202,
    ),
  ];
}

function trickle(port: number): { stop(): void } {
  let stopped = false;
  let s: Socket | null = null;
  const open = () => {
    if (stopped) return;
    s = connect(port, "127.0.0.1", () => {
      s!.write(
        `POST /api/v1/notifications/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"notifications":[`,
      );
      const tick = setInterval(() => (stopped ? clearInterval(tick) : s!.write(`${JSON.stringify(item())},`)), 500);
      s!.on("close", () => (clearInterval(tick), open()));
    });
    s.on("error", () => {});
  };
  open();
  return { stop: () => ((stopped = true), s?.destroy()) };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function measure(label: string, dbUrl: string | undefined) {
  const srv = await server(dbUrl);
  const base = `http://127.0.0.1:${srv.port}`;
  try {
    for (let i = 0; i < 10; i++) await round(base); // warm-up
    const alone: number[][] = [];
    for (let i = 0; i < ROUNDS; i++) alone.push(await round(base));
    const slow = Array.from({ length: SLOW }, () => trickle(srv.port));
    await new Promise((r) => setTimeout(r, 1000));
    const during: number[][] = [];
    for (let i = 0; i < ROUNDS; i++) during.push(await round(base));
    for (const s of slow) s.stop();
    const names = ["readyz", "API 404", "webhook", "batch(2)"];
    console.log(`\n${label}: ${ROUNDS} rounds alone, then ${ROUNDS} with ${SLOW} clients trickling batch bodies`);
    console.log("request | p50 alone | p50 with | ratio | p99 alone | p99 with | ratio");
    for (const [k, n] of names.entries()) {
      const a = alone.map((r) => r[k]!);
      const d = during.map((r) => r[k]!);
      console.log(
        `${n} | ${pct(a, 0.5).toFixed(1)} ms | ${pct(d, 0.5).toFixed(1)} ms | ${(pct(d, 0.5) / pct(a, 0.5)).toFixed(2)}× | ${pct(a, 0.99).toFixed(1)} ms | ${pct(d, 0.99).toFixed(1)} ms | ${(pct(d, 0.99) / pct(a, 0.99)).toFixed(2)}×`,
      );
    }
  } finally {
    srv.stop();
  }
}

console.log(
  `slow-client benchmark — ${cpus().length} CPUs, load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
await measure("PGlite", undefined);
const pgUrl = process.env["BENCH_SLOW_DATABASE_URL"];
if (pgUrl) {
  // A temporary database on that server, dropped after.
  const { default: pg } = await import("pg");
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  const name = `oa_bench_${randomBytes(4).toString("hex")}`;
  await admin.query(`create database ${name}`);
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  try {
    await measure("PostgreSQL", u.toString());
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}
