import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { makePgliteTemplate } from "./db.ts";
import { ensureServerBundle } from "./process.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's migrated PGlite template (helpers/db.ts), made once here instead of once per test file. */
    pgliteTemplate: string;
  }
}

/** Once per `vitest run`, before any test file: a fresh server bundle and a migrated PGlite template. */
export default async function setup(project: TestProject): Promise<() => void> {
  const started = performance.now();
  ensureServerBundle();
  const dir = mkdtempSync(join(tmpdir(), "oa-pglite-template-"));
  // Also with DATABASE_URL: the tests that start a server or script on an embedded PGlite data directory use it.
  await makePgliteTemplate(dir);
  project.provide("pgliteTemplate", dir);
  process.stderr.write(`global setup: server bundle and PGlite template ready in ${Math.round(performance.now() - started)} ms\n`);
  return () => rmSync(dir, { recursive: true, force: true });
}
