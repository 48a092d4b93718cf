import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const serverDir = fileURLToPath(new URL("../../../server", import.meta.url));

/** How long a test waits for a child process (start-up, exit) before it fails: under the 300 s test timeout, and long
 * enough for a cold start on a busy 2-core machine. */
export const PROCESS_WAIT_MS = 240_000;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `server/<script>` in a child process with exactly the given environment (plus PATH). */
export async function startServerProcess(env: Record<string, string>, script = "src/main.ts", opts: { waitForOutput?: string } = {}): Promise<ServerProcess> {
  const port = env["PORT"] ? Number(env["PORT"]) : await freePort();
  // A built bundle (.mjs) runs on plain node, as `pnpm start` runs it; sources run under tsx.
  const child = spawn(process.execPath, script.endsWith(".mjs") ? [script] : ["--import", "tsx", script], {
    cwd: serverDir,
    env: { PATH: process.env["PATH"] ?? "", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d.toString()));
  child.stderr!.on("data", (d) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  // Under the 300 s test and hook timeouts, so a server that never comes up fails with its output.
  const deadline = Date.now() + PROCESS_WAIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${out}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok && (!opts.waitForOutput || out.includes(opts.waitForOutput))) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, url, output: () => out, exited };
}

const bundledSources = [join(serverDir, "src"), fileURLToPath(new URL("../../../db/src", import.meta.url)), join(serverDir, "scripts", "build.mjs")];

/** The newest modification time of a file under `path` (or of `path` itself). */
function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/** Whether server/dist is missing, or older than a file it bundles (server/src, db/src, the build script). */
export function serverBundleStale(): boolean {
  const outputs = ["main.mjs", "worker-main.mjs"].map((f) => join(serverDir, "dist", f));
  if (!outputs.every((f) => existsSync(f))) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  return bundledSources.some((s) => newestMtime(s) > built);
}

/** Rebuilds server/dist when it is stale, so a test never runs yesterday's bundle against today's sources. */
export function ensureServerBundle(): void {
  if (serverBundleStale()) execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: serverDir, stdio: "ignore" });
}

/**
 * The production bundle `pnpm start` runs (server/dist/main.mjs), rebuilt first if it is missing or older than its
 * sources (the global setup already did that once for the run; this covers a file run without it).
 */
export function builtServerEntry(): string {
  ensureServerBundle();
  return "dist/main.mjs";
}
