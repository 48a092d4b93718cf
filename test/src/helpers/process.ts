import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const serverDir = fileURLToPath(new URL("../../../server", import.meta.url));

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
export async function startServerProcess(
  env: Record<string, string>,
  script = "src/main.ts",
  opts: { waitForOutput?: string } = {},
): Promise<ServerProcess> {
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
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

/** The production bundle `pnpm start` runs (server/dist/main.mjs), built now if this run did not build it. */
export function builtServerEntry(): string {
  if (!existsSync(join(serverDir, "dist", "main.mjs"))) execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: serverDir, stdio: "ignore" });
  return "dist/main.mjs";
}
