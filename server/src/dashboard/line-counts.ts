import { sql } from "@oa-notify/db";
import type { AppDeps } from "../deps.ts";
import { fetchLineDayCount, LINE_COUNT_KINDS, type LineCountKind, type LineDayCount } from "../lib/line/delivery-counts.ts";
import { lineDate } from "../lib/taipei.ts";

export type LineDayCounts = Record<LineCountKind, LineDayCount | { status: "future" }>;

/** How many LINE calls run at once while a statement fills its month (31 days × 3 kinds at most). */
const PARALLEL = 6;

/**
 * LINE's delivery counts for the given LINE days (UTC+9, `yyyy-mm-dd`), from the `line_delivery_counts` cache where
 * it has them, else from LINE. A finished day's "ready" answer is stored (LINE does not change it); today's is asked
 * each time and never stored; days after today are not asked at all.
 */
export async function lineDayCounts(deps: AppDeps, days: string[]): Promise<Map<string, LineDayCounts>> {
  const today = lineDate(deps.clock.now());
  const cached = days.length
    ? await deps.db.query<{ day: string; kind: string; success: number }>(
        sql`select day, kind, success from line_delivery_counts where day in (${sql.join(
          days.map((d) => sql`${d}`),
          sql`, `,
        )})`,
      )
    : [];
  const out = new Map<string, LineDayCounts>();
  const future = { status: "future" } as const;
  for (const d of days) out.set(d, { push: future, pnp: future, pnp_template: future });
  for (const c of cached) {
    const e = out.get(c.day);
    if (e && (LINE_COUNT_KINDS as readonly string[]).includes(c.kind)) e[c.kind as LineCountKind] = { status: "ready", success: Number(c.success) };
  }
  const todo: { day: string; kind: LineCountKind }[] = [];
  for (const d of days) {
    if (d > today) continue;
    for (const kind of LINE_COUNT_KINDS) if (out.get(d)![kind].status === "future") todo.push({ day: d, kind });
  }
  for (let i = 0; i < todo.length; i += PARALLEL) {
    await Promise.all(
      todo.slice(i, i + PARALLEL).map(async ({ day, kind }) => {
        const r = await fetchLineDayCount(deps.line, kind, day);
        out.get(day)![kind] = r;
        if (r.status === "ready" && day < today) {
          await deps.db.query(
            sql`insert into line_delivery_counts (day, kind, success) values (${day}, ${kind}, ${r.success}) on conflict (day, kind) do nothing`,
          );
        }
        if (r.status === "error") deps.logger.warn({ day, kind, err: r.message }, "LINE delivery count unavailable");
      }),
    );
  }
  return out;
}
