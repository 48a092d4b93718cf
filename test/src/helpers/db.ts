import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Database } from "@oa-notify/db";
import pg from "pg";
import { inject } from "vitest";

/** The machine's PostgreSQL when DATABASE_URL is set (CI), else embedded PGlite. Read once, here. */
export const DATABASE_URL = process.env["DATABASE_URL"] || undefined;

export interface TestDb extends Database {
  /** A URL another process can use for the same database (PostgreSQL only). */
  url: string | undefined;
}

/**
 * A migrated PGlite made by the global setup (once, cached between runs), so no test file pays for PGlite's initdb
 * (3–8 s of CPU each on a busy 2-core machine, where 7 files used to time out in beforeAll):
 * - `dir/data`: its data directory, copied for each server a test starts in a child process (`pgliteDataDir`);
 * - `dir/pgdata.tar`: its `dumpDataDir()`, loaded by each test file's in-memory PGlite (`createTestDb`).
 */
export async function makePgliteTemplate(dir: string): Promise<void> {
  const data = join(dir, "data");
  mkdirSync(dir, { recursive: true });
  const db = await createDb({ dataDir: data });
  await db.close();
  const { PGlite } = await import("@electric-sql/pglite");
  // Reopened (closed cleanly) to dump it; dumpDataDir() before waitReady never settles.
  const reopened = new PGlite(data);
  try {
    await reopened.waitReady;
    const dump = await reopened.dumpDataDir("none");
    writeFileSync(join(dir, "pgdata.tar"), new Uint8Array(await dump.arrayBuffer()));
  } finally {
    await reopened.close();
  }
}

/** The template's directory, when the global setup provided one (not outside vitest). */
function pgliteTemplate(): string | undefined {
  let dir: string | undefined;
  try {
    dir = inject("pgliteTemplate");
  } catch {
    return undefined;
  }
  return dir && existsSync(join(dir, "pgdata.tar")) ? dir : undefined;
}

/**
 * A Blob over bytes already in memory: PGlite reads a dump with `arrayBuffer()`, which for a plain Blob copies the
 * 40 MB in chunks (~0.5 s); this hands over the bytes at once.
 */
class BytesBlob extends Blob {
  readonly #bytes: Uint8Array<ArrayBuffer>;
  constructor(bytes: Uint8Array<ArrayBuffer>) {
    super([bytes]);
    this.#bytes = bytes;
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.#bytes.buffer.slice(this.#bytes.byteOffset, this.#bytes.byteOffset + this.#bytes.byteLength));
  }
}

let templateDump: Uint8Array<ArrayBuffer> | undefined;

/**
 * A fresh, migrated database for one test file: its own PostgreSQL database (created from DATABASE_URL's server and
 * dropped afterwards), or an in-memory PGlite (a copy of the run's migrated template when there is one). Tests never
 * share rows, so they cannot depend on each other's order.
 */
export async function createTestDb(): Promise<TestDb> {
  if (!DATABASE_URL) {
    const template = pgliteTemplate();
    if (template) templateDump ??= new Uint8Array(readFileSync(join(template, "pgdata.tar")));
    const db = await createDb(template ? { loadDataDir: new BytesBlob(templateDump!) } : {});
    return Object.assign(db, { url: undefined });
  }
  const name = `oa_t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  const db = await createDb({ url: url.toString(), poolSize: 10 });
  const close = db.close;
  return Object.assign(db, {
    url: url.toString(),
    close: async () => {
      await close();
      const a = new pg.Client({ connectionString: DATABASE_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  });
}

/**
 * A new data directory (DATA_DIR) for a server or script a test runs in a child process: holding a copy of the run's
 * migrated PGlite, so the child opens it instead of running initdb.
 */
export function pgliteDataDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `oa-${name}-`));
  const template = pgliteTemplate();
  if (template) cpSync(join(template, "data"), dir, { recursive: true });
  return dir;
}
