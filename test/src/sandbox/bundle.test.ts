import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { networkInterfaces, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { freePort, PROCESS_WAIT_MS, serverDir } from "../helpers/process.ts";

/**
 * The production bundle keeps the sandbox out (server/scripts/build.mjs, main.ts): dist/main.mjs and everything it
 * imports statically carry no emulator code and import neither ajv, yaml nor ulid; the sandbox is a chunk that only
 * an import() reaches. Proved on a fresh build (into its own directory, so the other process tests' dist/ is left
 * alone), statically by following the imports, and at run time by a module-load hook in the server process.
 */

/** Strings only the sandbox has: the emulator's 409 message and webhook user agent, the runtime's state file. */
const SANDBOX_MARKERS = ["The retry key is already accepted", "LineBotWebhook/2.0", "sandbox-line.json", "startLineEmulator"];
const SANDBOX_PACKAGES = ["ajv", "ajv-formats", "yaml", "ulid"];

const outdir = join("dist", `bundle-test-${process.pid}`);
const outPath = resolve(serverDir, outdir);

/** `import … from "x"` / `export … from "x"` / bare `import "x"`, not `import("x")`. */
const STATIC_IMPORT = /(?:^|[;\n])\s*(?:import|export)\s*(?:[\w*\s{},$]*?\sfrom\s*)?["']([^"']+)["']/g;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;
const specifiers = (code: string, re: RegExp) => [...code.matchAll(re)].map((m) => m[1]!);

/** Every file of the bundle that loading `entry` reads (relative imports followed), and the packages it imports. */
function staticClosure(entry: string): { files: Map<string, string>; packages: Set<string> } {
  const files = new Map<string, string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    const code = readFileSync(file, "utf8");
    files.set(file, code);
    for (const s of specifiers(code, STATIC_IMPORT)) {
      if (s.startsWith(".")) visit(resolve(dirname(file), s));
      else if (!s.startsWith("node:")) packages.add(s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!);
    }
  };
  visit(entry);
  return { files, packages };
}

beforeAll(async () => {
  const build = (await import(resolve(serverDir, "scripts/build.mjs"))) as { buildServer(outdir: string): Promise<void> };
  await build.buildServer(outdir);
}, 120_000);
afterAll(() => rmSync(outPath, { recursive: true, force: true }));

describe("the production bundle", () => {
  it("main.mjs and its static imports carry no sandbox code and import neither ajv, yaml nor ulid", () => {
    const main = staticClosure(join(outPath, "main.mjs"));
    expect(main.files.size).toBeGreaterThan(1); // split: the entry imports shared chunks
    for (const [file, code] of main.files) for (const m of SANDBOX_MARKERS) expect(code.includes(m), `${m} in ${file}`).toBe(false);
    for (const p of SANDBOX_PACKAGES) expect(main.packages.has(p), p).toBe(false);
    expect(main.packages.has("express")).toBe(true); // the import scan works
    // LINE's message schema is checked in production too: by the validator compiled ahead of time, which carries the
    // few ajv run-time helpers it needs inlined (docs/decisions/0011-line-message-validation.md), not ajv itself.
    const mainCode = [...main.files.values()].join("\n");
    expect(mainCode).toContain("a URI action may open only http(s)://, line: or tel: links");
    expect(mainCode).toContain("ajv/dist/runtime/ucs2length");

    // The sandbox is the chunk main.mjs reaches by import() only, and it does carry the markers and the packages.
    const dynamic = [...new Set(specifiers(main.files.get(join(outPath, "main.mjs"))!, DYNAMIC_IMPORT).filter((s) => s.startsWith(".")))];
    expect(dynamic).toHaveLength(1);
    const sandbox = staticClosure(join(outPath, dynamic[0]!));
    const sandboxCode = [...sandbox.files.values()].join("\n");
    for (const m of SANDBOX_MARKERS) expect(sandboxCode).toContain(m);
    for (const p of SANDBOX_PACKAGES) expect(sandbox.packages.has(p), p).toBe(true);
  });

  it("worker-main.mjs carries no sandbox code either", () => {
    const worker = staticClosure(join(outPath, "worker-main.mjs"));
    for (const code of worker.files.values()) for (const m of SANDBOX_MARKERS) expect(code).not.toContain(m);
    for (const p of SANDBOX_PACKAGES) expect(worker.packages.has(p), p).toBe(false);
  });
});

// Module-load hooks in the server process (node ≥ 22.15 / 23.5): which files it really loads.
const canHook = typeof (nodeModule as { registerHooks?: unknown }).registerHooks === "function";
const HOOK = `import { registerHooks } from "node:module";
import { appendFileSync } from "node:fs";
registerHooks({ load(url, context, next) { appendFileSync(process.env.LOAD_LOG, url + "\\n"); return next(url, context); } });
`;

describe.skipIf(!canHook)("the bundle at run time", () => {
  let tmp: string;
  let db: TestDb | null = null;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "oa-bundle-"));
    writeFileSync(join(tmp, "hook.mjs"), HOOK);
    if (process.env["DATABASE_URL"]) db = await createTestDb();
  });
  afterAll(async () => {
    await db?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Starts the fresh bundle with the load hook; resolves with the files it loaded once it is ready, then stops it. */
  async function loadedBy(env: Record<string, string>, whileUp?: (port: number) => Promise<void>): Promise<string[]> {
    const port = await freePort();
    const log = join(tmp, `loaded-${port}.txt`);
    const child = spawn(process.execPath, ["--import", join(tmp, "hook.mjs"), join(outdir, "main.mjs")], {
      cwd: serverDir,
      env: {
        PATH: process.env["PATH"] ?? "",
        PORT: String(port),
        LOAD_LOG: log,
        LOG_LEVEL: "warn",
        WORKER_ENABLED: "0",
        DATA_DIR: join(tmp, `data-${port}`),
        ...(db?.url ? { DATABASE_URL: db.url } : {}),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const exited = new Promise((r) => child.once("exit", r));
    try {
      for (let i = 0; ; i++) {
        if (child.exitCode !== null) throw new Error(`server exited:\n${out}`);
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (i > PROCESS_WAIT_MS / 200) throw new Error(`server not ready:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await whileUp?.(port);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    return existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
  }
  const sandboxFiles = (urls: string[]) =>
    urls.filter((u) => /\/node_modules\/(?:\.pnpm\/)?(?:ajv|ajv-formats|yaml|ulid)[@/]/.test(u) || /\/chunks\/runtime-/.test(u));

  it("a production server never loads the sandbox chunk, ajv, yaml or ulid", async () => {
    const loaded = await loadedBy({
      NODE_ENV: "production",
      LINE_CHANNEL_SECRET: "production-secret-0123456789",
      LINE_CHANNEL_ACCESS_TOKEN: "production-token",
      LINE_LOGIN_CHANNEL_ID: "2000000000",
      LIFF_ID: "2000000000-abcdefgh",
      API_KEYS: "production-key-0123456789",
      APP_SECRET: "production-app-secret-0123456789abcdef",
      SMS_PROVIDER: "log",
    });
    expect(loaded.some((u) => u.endsWith("/main.mjs"))).toBe(true); // the hook saw the server load
    expect(loaded.some((u) => u.includes("/node_modules/") && u.includes("express"))).toBe(true);
    expect(sandboxFiles(loaded)).toEqual([]);
  }, 120_000);

  it("sandbox mode loads them from the bundle, and listens on 127.0.0.1 only", async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === "IPv4")?.address;
    const loaded = await loadedBy({ SANDBOX: "1", SANDBOX_LINE_PORT: String(await freePort()) }, async (port) => {
      expect((await fetch(`http://127.0.0.1:${port}/sandbox/api/overview`)).status).toBe(200);
      // Not reachable from other machines: the console is unauthenticated (env.ts).
      if (external) await expect(fetch(`http://${external}:${port}/healthz`)).rejects.toThrow();
    });
    const files = sandboxFiles(loaded);
    for (const p of [/\/chunks\/runtime-/, /ajv/, /yaml/, /ulid/])
      expect(
        files.some((u) => p.test(u)),
        String(p),
      ).toBe(true);
  }, 120_000);
});
