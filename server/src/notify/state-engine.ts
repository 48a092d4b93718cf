import { type DbOrTx, type NotificationStatus, notificationStatuses, pgArray, type RouteChannel, type SQL, sql, type TimelineState } from "@oa-notify/db";
import { statusOutboxInsert } from "./outbox-sql.ts";

/*
 * The machinery behind notify/transitions.ts: a transition is a definition (the states it may leave and reach, its
 * guard, its update and its timeline entries) run as ONE statement over a set of rows. The definitions themselves,
 * and what each one means, are in transitions.ts; docs/states.md is generated from them.
 */

type ColumnType = "uuid" | "text" | "jsonb" | "timestamptz" | "int" | "boolean";

export interface TransitionDef<I extends object> {
  name: string;
  /** When it fires, in a few words (the docs' table). */
  when: string;
  from: readonly NotificationStatus[] | "any";
  /** The states it can leave the row in; "same" = the status does not change. */
  to: readonly NotificationStatus[] | "same";
  /** The timeline entries it may write (the docs' table). */
  timeline: readonly TimelineState[];
  /** Rows are addressed by id, or (a PNP delivery event) by our delivery tag. */
  match?: "id" | "tag";
  input: { [K in keyof I]: ColumnType };
  guard?: SQL;
  set: SQL;
  /** `(ord, state, detail)` rows; a null state writes nothing. */
  events?: SQL;
  /** Expose the status before the change as `cur.prev` (costs a row lock up front). */
  previous?: boolean;
  /** For the docs: a transition that is not an UPDATE (accept inserts). */
  insert?: true;
}

/** What a transition changed, per row. */
export interface Changed {
  id: string;
  status: NotificationStatus;
  channel: RouteChannel | null;
  retryKey: string | null;
}

type Item<I> = I & { id?: string; tag?: string; at: string };

const defs: TransitionDef<object>[] = [];
export function define<I extends object>(d: TransitionDef<I>): TransitionDef<I> {
  defs.push(d as TransitionDef<object>);
  return d;
}
/** Every transition, in definition order (docs/states.md). */
export const transitionDefs: readonly TransitionDef<object>[] = defs;

/** Observes applied transitions (metrics); set by the app. */
export type TransitionObserver = (name: string, rows: Changed[]) => void;

/** Runs a transition for `items` (all in one statement). */
export async function apply<I extends object>(db: DbOrTx, def: TransitionDef<I>, items: Item<I>[], observe?: TransitionObserver): Promise<Changed[]> {
  if (items.length === 0) return [];
  const byTag = def.match === "tag";
  const cols = sql.raw([byTag ? "tag text" : "id uuid", "at timestamptz", ...Object.entries(def.input).map(([k, t]) => `${k} ${t}`)].join(", "));
  const key = byTag ? sql`n.delivery_tag = x.tag` : sql`n.id = x.id`;
  const from = def.from === "any" ? sql`true` : sql`n.status = any(${pgArray([...def.from])}::text[])`;
  const statement = sql`
    with x as (select * from json_to_recordset(${JSON.stringify(items)}::json) as x(${cols}))
    ${def.previous ? sql`, cur as (select n.id, n.status as prev from notifications n join x on ${key} for update of n)` : sql``}
    , upd as (
      update notifications n set ${def.set}, updated_at = x.at
      from x ${def.previous ? sql`, cur` : sql``}
      where ${key} ${def.previous ? sql`and cur.id = n.id` : sql``} and ${from} and (${def.guard ?? sql`true`})
      returning n.id, n.status, n.channel, n.retry_key, n.delivery_tag, n.member_id, n.scenario, n.batch_id,
        (n.delivered_at is not null or n.status in ('delivered', 'delivered_late')) as line_delivered, (n.sms_sent_at is not null) as sms_sent
        ${def.previous ? sql`, cur.prev` : sql``}
    )
    ${
      def.events
        ? sql`, vals as (
      select upd.id, v.ord, v.state, v.detail, x.at, upd.channel, upd.member_id, upd.scenario, upd.batch_id, upd.line_delivered, upd.sms_sent
      from upd join x on ${byTag ? sql`x.tag = upd.delivery_tag` : sql`x.id = upd.id`}
      cross join lateral (values ${def.events}) as v(ord, state, detail)
      where v.state is not null
    ), ev as (
      insert into notification_events (notification_id, at, state, detail)
      select id, at, state, detail from vals order by id, ord
    ), cb as (
      ${statusOutboxInsert(sql`select * from vals`)}
    )`
        : sql``
    }
    select id::text as id, status, channel, retry_key::text as retry_key from upd`;
  const res = (await db.execute(statement)) as unknown as {
    rows: { id: string; status: NotificationStatus; channel: RouteChannel | null; retry_key: string | null }[];
  };
  const rows = res.rows.map((r) => ({ id: r.id, status: r.status, channel: r.channel, retryKey: r.retry_key }));
  const allowed = def.to === "same" ? (def.from === "any" ? notificationStatuses : def.from) : def.to;
  for (const r of rows) {
    // A definition that leaves a row in a state its table row does not list is a bug in this file: say so loudly.
    if (!(allowed as readonly string[]).includes(r.status)) throw new Error(`transition ${def.name} left notification ${r.id} in ${r.status}`);
  }
  observe?.(def.name, rows);
  return rows;
}

/** The changed row for each item (by id), or null where the guard refused it. */
export function resultsById<I>(items: Item<I>[], rows: Changed[]): (Changed | null)[] {
  const m = new Map(rows.map((r) => [r.id, r]));
  return items.map((i) => (i.id ? (m.get(i.id) ?? null) : null));
}
