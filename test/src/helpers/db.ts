import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDb, type Database } from "@oa-notify/db";

/** The machine's PostgreSQL when DATABASE_URL is set (CI), else embedded PGlite. Read once, here. */
export const DATABASE_URL = process.env["DATABASE_URL"] || undefined;

export interface TestDb extends Database {
  /** A URL another process can use for the same database (PostgreSQL only). */
  url: string | undefined;
}

/**
 * A fresh, migrated database for one test file: its own PostgreSQL database (created from DATABASE_URL's server and
 * dropped afterwards), or an in-memory PGlite. Tests never share rows, so they cannot depend on each other's order.
 */
export async function createTestDb(): Promise<TestDb> {
  if (!DATABASE_URL) {
    const db = await createDb({});
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
