import { z } from "zod";
import { AppError } from "./errors.ts";
import { isoDate, isoDateTime } from "./validate.ts";

/**
 * Asia/Taipei calendar arithmetic. Taiwan is UTC+8 all year (no daylight saving since 1979), so a Taipei day is a
 * fixed 24 h window and no time-zone database is needed (PGlite has none to rely on). Every date-only `from`/`to`
 * the API takes means the start of that Taipei day; LINE's own statistics days are UTC+9 (`lineDay`).
 */
export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const TAIPEI_OFFSET_MS = 8 * HOUR_MS;
/** LINE's delivery-count endpoints count per UTC+9 day ("Timezone: UTC+9" in the Messaging API reference). */
export const LINE_OFFSET_MS = 9 * HOUR_MS;

/** The start of the Taipei day `yyyy-mm-dd`, as an instant. */
export function taipeiDayStart(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) - TAIPEI_OFFSET_MS);
}

/** The Taipei day `at` falls on, as `yyyy-mm-dd`. */
export function taipeiDate(at: Date): string {
  return new Date(at.getTime() + TAIPEI_OFFSET_MS).toISOString().slice(0, 10);
}

/** The start of the Taipei day (or hour) that holds `at`. */
export function taipeiFloor(at: Date, unit: "day" | "hour"): Date {
  const size = unit === "day" ? DAY_MS : HOUR_MS;
  return new Date(Math.floor((at.getTime() + TAIPEI_OFFSET_MS) / size) * size - TAIPEI_OFFSET_MS);
}

/** [from, to) of the Taipei calendar month `yyyy-mm`. */
export function taipeiMonth(month: string): { from: Date; to: Date } {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
  return { from: taipeiDayStart(`${month}-01`), to: taipeiDayStart(`${next}-01`) };
}

/** The Taipei month `at` falls in, as `yyyy-mm`. */
export const taipeiMonthOf = (at: Date) => taipeiDate(at).slice(0, 7);

/** LINE's statistics day (UTC+9) of `at`, as `yyyy-mm-dd`. */
export function lineDate(at: Date): string {
  return new Date(at.getTime() + LINE_OFFSET_MS).toISOString().slice(0, 10);
}

/** A date-only value is the start of that Taipei day; a date-time is taken as written (it carries its offset). */
export function parseInstant(s: string): Date {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) ? taipeiDayStart(s) : new Date(s);
}

/** zod for a `from`/`to` query value: an ISO date (a Taipei day) or an ISO date-time with an offset. */
export const instantParam = () => isoDateTime().or(isoDate()).optional();

/**
 * The period [from, to) of a stats query: date-only values are Taipei days, `to` defaults to now and `from` to
 * `defaultDays` before `to`. `maxDays` bounds the span (a 400, not a slow query).
 */
export function queryPeriod(
  q: { from?: string | undefined; to?: string | undefined },
  now: Date,
  defaultDays: number,
  maxDays = 3660,
): { from: Date; to: Date } {
  const to = q.to ? parseInstant(q.to) : now;
  const from = q.from ? parseInstant(q.from) : new Date(to.getTime() - defaultDays * DAY_MS);
  if (!(from < to)) throw new AppError("validation_failed", "query.from: must be before query.to", [{ field: "query.from", message: "must be before to" }]);
  if (to.getTime() - from.getTime() > maxDays * DAY_MS) {
    throw new AppError("validation_failed", `query.from: at most ${maxDays} days before query.to`, [
      { field: "query.from", message: `at most ${maxDays} days` },
    ]);
  }
  return { from, to };
}

/** A Taipei month `yyyy-mm` (01–12). */
export const monthParam = () => z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a month as yyyy-mm");
