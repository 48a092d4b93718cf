import { getTableColumns, type Table } from "drizzle-orm";

/**
 * One way to get typed rows from raw SQL: statements that need SQL the query builder cannot say (CTEs, SKIP LOCKED,
 * json_to_recordset) return the table's columns by their database names; this maps them to the drizzle schema's
 * row type (`$inferSelect`: camelCase keys, Dates, parsed JSON) with the columns' own driver mappings, so both
 * drivers (pg, PGlite) give the same objects. See docs/decisions/0004-sql-style.md.
 */
export function typedRow<T extends Table>(table: T, raw: Record<string, unknown>): T["$inferSelect"] {
  const out: Record<string, unknown> = {};
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    const v = raw[col.name];
    out[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
  }
  return out as T["$inferSelect"];
}

export function typedRows<T extends Table>(table: T, raws: Record<string, unknown>[]): T["$inferSelect"][] {
  return raws.map((r) => typedRow(table, r));
}
