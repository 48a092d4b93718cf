import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrationsFolder } from "@oa-notify/db";
import type { TestProject } from "vitest/node";
import { makePgliteTemplate } from "./db.ts";
import { ensureServerBundle } from "./process.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The migrated PGlite template (helpers/db.ts), made once instead of once per test file. */
    pgliteTemplate: string;
  }
}

const repo = fileURLToPath(new URL("../../../", import.meta.url));
/** Kept between runs (git-ignored): a single-file run then pays for no initdb at all. */
const cacheDir = join(repo, "test", "node_modules", ".cache", "pglite-template");

/** Names the template by what it is made of: the migrations and the PGlite that runs them. */
function templateKey(): string {
  const h = createHash("sha256");
  h.update(readFileSync(join(repo, "db", "node_modules", "@electric-sql", "pglite", "package.json")));
  for (const f of readdirSync(migrationsFolder, { recursive: true, encoding: "utf8" }).sort()) {
    const path = join(migrationsFolder, f);
    if (f.endsWith(".sql") || f.endsWith(".json")) h.update(f).update(readFileSync(path));
  }
  return h.digest("hex").slice(0, 16);
}

/** The template for the current migrations: the cached one, or made now (in a temporary directory, then renamed in). */
async function pgliteTemplate(): Promise<string> {
  const key = templateKey();
  const dir = join(cacheDir, key);
  if (existsSync(join(dir, "pgdata.tar"))) return dir;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(join(cacheDir, `.tmp-${key}-`));
  await makePgliteTemplate(tmp);
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another run made it first
  }
  // Templates of older migrations are never used again, nor is what an interrupted run left half made.
  for (const old of readdirSync(cacheDir)) {
    const stale = old.startsWith(".tmp-") ? Date.now() - statSync(join(cacheDir, old)).mtimeMs > 3600_000 : old !== key;
    if (stale) rmSync(join(cacheDir, old), { recursive: true, force: true });
  }
  return dir;
}

/** Once per `vitest run`, before any test file: a fresh server bundle and a migrated PGlite template. */
export default async function setup(project: TestProject): Promise<void> {
  const started = performance.now();
  ensureServerBundle();
  // Also with DATABASE_URL: the tests that run a server or script on an embedded PGlite data directory copy it.
  project.provide("pgliteTemplate", await pgliteTemplate());
  process.stderr.write(`global setup: server bundle and PGlite template ready in ${Math.round(performance.now() - started)} ms\n`);
}
