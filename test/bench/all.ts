// pnpm bench — every bar of docs/benchmarks.md, each against a baseline measured in the same run, one PASS/FAIL line
// per bar, collected at the end. Short, CI-friendly durations by default; BENCH_LONG=1 runs the full-size figures
// (20 s of dispatch, a 1,000,000-notification batch, 6 s webhook rounds). Any variable a benchmark reads
// (BENCH_NOTIFY_TOTAL, BENCH_DISPATCH_SECONDS, BENCH_SECONDS, …) set in the environment wins.
// Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) and the built bundles (pnpm build).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const LONG = process.env["BENCH_LONG"] === "1";
const defaults: Record<string, string> = LONG
  ? {
      BENCH_DISPATCH_SECONDS: "20",
      BENCH_NOTIFY_TOTAL: "1000000",
      BENCH_SECONDS: "6",
      BENCH_ROUNDS: "3",
      BENCH_FLEET_SECONDS: "10",
    }
  : {
      BENCH_DISPATCH_SECONDS: "5",
      BENCH_NOTIFY_TOTAL: "100000",
      BENCH_SECONDS: "4",
      BENCH_ROUNDS: "3",
      BENCH_FLEET_SECONDS: "4",
    };
const env = { ...process.env };
for (const [k, v] of Object.entries(defaults)) env[k] ??= v;

const benches = (process.env["BENCH_ONLY"] ?? "webhook,notify,fleet,memory,liff").split(",");
const verdicts: string[] = [];
for (const name of benches) {
  const before = verdicts.length;
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  console.log(`\n=== ${name} ===`);
  const code = await new Promise<number>((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", script], { env, stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    p.stdout.on("data", (c: Buffer) => {
      process.stdout.write(c);
      buf += c.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) if (/^(PASS|FAIL) {2}/.test(l)) verdicts.push(l);
    });
    p.on("exit", (c) => resolve(c ?? 1));
  });
  if (code !== 0 && verdicts.length === before) verdicts.push(`FAIL  ${name}: the benchmark exited ${code}`);
}
console.log(`\n=== pnpm bench: ${verdicts.filter((v) => v.startsWith("PASS")).length} of ${verdicts.length} bars passed ===`);
for (const v of verdicts) console.log(v);
process.exit(verdicts.every((v) => v.startsWith("PASS")) ? 0 : 1);
