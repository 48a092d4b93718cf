import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema.ts";

export * from "./schema.ts";
export * from "./states.ts";
export * from "./webhooks.ts";
export { schema };

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle; domain verbs take `Db | Tx` where they can run inside a caller's transaction. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  db: Db;
  kind: "pglite" | "postgres";
  /** Rows of a raw SQL statement, the same shape for both drivers. */
  query<T = Record<string, unknown>>(statement: SQL): Promise<T[]>;
  /**
   * A raw parameterised statement, for hot paths: skips the query builder, and with `name` the pg driver prepares
   * it once per connection (PGlite ignores the name).
   */
  exec<T = Record<string, unknown>>(text: string, params: unknown[], name?: string): Promise<T[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface CreateDbOptions {
  /** postgres:// URL; when unset, embedded PGlite is used. */
  url?: string | undefined;
  /** PGlite data directory; `memory://` (or undefined) keeps it in memory. */
  dataDir?: string | undefined;
  /** pg pool size. */
  poolSize?: number;
  /** In-memory PGlite only: start from this data directory dump (PGlite's `dumpDataDir()`) instead of an empty cluster. */
  loadDataDir?: Blob | undefined;
  migrate?: boolean;
}

/**
 * `db/migrations`, found by walking up from this module: from the sources (db/src) and from the server's production
 * bundle (server/dist) alike, whose depth differs.
 */
export const migrationsFolder = (() => {
  const from = dirname(fileURLToPath(import.meta.url));
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "db", "migrations");
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`db/migrations not found above ${from}`);
  }
})();

/**
 * A PostgreSQL array literal for a list of values: both drivers pass it as one text parameter, so a statement like
 * `… unnest($1::text[])` has one parameter whatever the list's length (one plan, no parameter limit).
 */
export function pgArray(values: (string | null)[]): string {
  return `{${values.map((v) => (v === null ? "NULL" : `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)).join(",")}}`;
}

// Both drivers return `{ rows }` from execute(); this hides the difference from the rest of the code.
async function rowsOf<T>(db: Db, statement: SQL): Promise<T[]> {
  const res = (await db.execute(statement)) as unknown as { rows: T[] };
  return res.rows;
}

/** PostgreSQL settings for the embedded PGlite (memory: see createDb). */
export const PGLITE_SETTINGS = ["shared_buffers=16MB", "wal_buffers=512kB", "work_mem=2MB", "maintenance_work_mem=16MB", "temp_buffers=2MB"];

export async function createDb(opts: CreateDbOptions = {}): Promise<Database> {
  if (opts.url) {
    const { default: pg } = await import("pg");
    const { drizzle } = await import("drizzle-orm/node-postgres");
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    pool.on("error", () => {});
    const db = drizzle(pool, { schema }) as unknown as Db;
    if (opts.migrate !== false) {
      const { migrate } = await import("drizzle-orm/node-postgres/migrator");
      // Several servers and workers may start at once against one database: serialise migrations.
      const client = await pool.connect();
      try {
        await client.query("select pg_advisory_lock(7262001)");
        await migrate(drizzle(client, { schema }), { migrationsFolder });
      } finally {
        await client.query("select pg_advisory_unlock(7262001)").catch(() => {});
        client.release();
      }
    }
    return {
      db,
      kind: "postgres",
      query: (s) => rowsOf(db, s),
      exec: async <T>(text: string, values: unknown[], name?: string) => (await pool.query(name ? { name, text, values } : { text, values })).rows as T[],
      ping: async () => {
        await pool.query("select 1");
      },
      close: () => pool.end(),
    };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const dataDir = opts.dataDir && opts.dataDir !== "memory://" ? opts.dataDir : undefined;
  const isNewCluster = Boolean(dataDir && !existsSync(join(dataDir, "PG_VERSION")));
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  // Memory (docs/benchmarks.md, "Memory"): PostgreSQL's defaults size shared buffers for a server of its own (128 MB,
  // all of it inside this process's WebAssembly heap once touched); an embedded database for one small business
  // needs far less. Every page PGlite touches stays resident, so these are the ceiling, not a hint.
  const startParams = [...PGlite.defaultStartParams, ...PGLITE_SETTINGS.flatMap((s) => ["-c", s])];
  const open = () =>
    dataDir ? new PGlite(dataDir, { startParams }) : new PGlite({ startParams, ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}) });
  let client = open();
  await client.waitReady;
  if (opts.migrate !== false) {
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(drizzle(client, { schema }), { migrationsFolder });
  }
  if (dataDir && isNewCluster) {
    // A first start ran initdb in this process: its memory (a few hundred MB) is only let go with the instance.
    await client.close();
    client = open();
    await client.waitReady;
  }
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    query: (s) => rowsOf(db, s),
    exec: async <T>(text: string, values: unknown[]) => (await client.query<T>(text, values)).rows,
    ping: async () => {
      await client.query("select 1");
    },
    close: () => client.close(),
  };
}

export type { SQL } from "drizzle-orm";
// The rest of the workspace takes drizzle from here, so there is one copy of its types.
export { and, asc, count, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, not, or, sql } from "drizzle-orm";
