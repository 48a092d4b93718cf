import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { createTestDb, DATABASE_URL, pgliteDataDir, type TestDb } from "./db.ts";
import { prerequisite } from "./prerequisites.ts";
import { builtServerEntry, freePort, type ServerProcess, startServerProcess } from "./process.ts";

/** Debian's chromium; a browser is never downloaded. */
export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
export const artifactsDir = fileURLToPath(new URL("../../artifacts", import.meta.url));

/**
 * Says why a browser test file is skipped, on a machine without chromium; under CI=true (which installs it) a missing
 * chromium fails the file instead.
 */
export function noteSkipped(what: string): void {
  prerequisite(what, hasChromium, `no ${CHROMIUM} (apt-get install -y chromium)`);
}

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });

/** Page errors and console errors: a page under test must produce none. */
export function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  return problems;
}

export interface SandboxStack {
  srv: ServerProcess;
  close(): Promise<void>;
}

/**
 * The real product as `pnpm start` runs it (the server bundle, sandbox mode: LINE emulator, demo seed) in a child
 * process with its own data directory, and its own PostgreSQL database when DATABASE_URL is set. Resolves once the
 * start-up banner is out, i.e. the demo members are seeded.
 */
export async function startSandboxStack(name: string, env: Record<string, string> = {}): Promise<SandboxStack> {
  mkdirSync(artifactsDir, { recursive: true });
  const db: TestDb | null = DATABASE_URL ? await createTestDb() : null;
  // Without DATABASE_URL the server opens the embedded PGlite in its data directory: a copy of the run's template.
  const dataDir = db ? mkdtempSync(join(tmpdir(), `oa-${name}-`)) : pgliteDataDir(name);
  const srv = await startServerProcess(
    { SANDBOX: "1", DATA_DIR: dataDir, SANDBOX_LINE_PORT: String(await freePort()), LOG_LEVEL: "warn", ...(db?.url ? { DATABASE_URL: db.url } : {}), ...env },
    builtServerEntry(),
    { waitForOutput: "Channel secret" },
  );
  return {
    srv,
    close: async () => {
      srv.child.kill("SIGTERM");
      await srv.exited;
      await db?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
