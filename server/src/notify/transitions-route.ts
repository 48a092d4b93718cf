import { type DbOrTx, sql } from "@oa-notify/db";
import { statusOutboxInsert } from "./outbox-sql.ts";
import { define } from "./state-engine.ts";

/*
 * The first transitions of a notification (docs/states.md): its acceptance, the route a worker decides, and the
 * markers committed before a call. Part of the state machine in transitions.ts, which re-exports them (split by
 * concept only to keep each file short; `pnpm docs:states` lists them first, in this order).
 */

// ------------------------------------------------------------------------------------------------ acceptance

/** Documentation row for the INSERT in ingest.ts (`acceptRows` below): a notification is born accepted. */
define<object>({
  name: "accept",
  when: "the API accepted the request (single or batch); durable before the 202 (with `sendAt`: first due then)",
  from: [],
  to: ["accepted"],
  timeline: ["accepted"],
  input: {},
  set: sql``,
  insert: true,
});

/** The rows of accepted notifications and their `accepted` timeline entries, in one statement. */
export async function acceptRows(db: DbOrTx, rows: Record<string, unknown>[], at: string): Promise<string[]> {
  // json_to_recordset keeps it to one bind parameter whatever the batch size (a VALUES list would need ~17
  // parameters per row, past pg's 65,535 limit).
  const res = (await db.execute(sql`
    with src as (
      select * from json_to_recordset(${JSON.stringify(rows)}::json) as x(
        id uuid, api_key_id text, idempotency_key text, request_hash text, batch_id uuid, member_id text,
        phone_e164 text, phone_hash text, line_user_id text, scenario text, urgency text, content jsonb,
        next_step jsonb, sms jsonb, route jsonb, channel text, send_at timestamptz, ignore_line text)
    ), ins as (
      -- A scheduled notice (sendAt) is first due at its send time: no worker claims it before (worker.ts).
      insert into notifications (id, api_key_id, idempotency_key, request_hash, batch_id, member_id, phone_e164, phone_hash,
        line_user_id, scenario, urgency, content, next_step, sms, route, channel, ignore_line, status, send_at, due_at, created_at, updated_at)
      select id, api_key_id, idempotency_key, request_hash, batch_id, member_id, phone_e164, phone_hash,
        line_user_id, scenario, urgency, content, next_step, sms, route, channel, ignore_line, 'accepted', send_at,
        coalesce(send_at, ${at}::timestamptz), ${at}::timestamptz, ${at}::timestamptz
      from src
      on conflict (api_key_id, idempotency_key) do nothing
      returning id, channel, member_id, scenario, batch_id, send_at
    ), ev as (
      insert into notification_events (notification_id, at, state, detail)
      select id, ${at}::timestamptz, 'accepted', case when send_at is not null then jsonb_build_object('scheduledFor', send_at) end from ins
    ), cb as (
      ${statusOutboxInsert(sql`select id, 1 as ord, 'accepted' as state, ${at}::timestamptz as at, channel, member_id, scenario, batch_id,
        false as line_delivered, false as sms_sent from ins`)}
    )
    select id::text as id from ins`)) as unknown as { rows: { id: string }[] };
  return res.rows.map((r) => r.id);
}

// ------------------------------------------------------------------------------------------------ routing

/** The route decided at send time, with what must be committed before the first call (push retry key or PNP marker). */
export const queue = define<{
  channel: string;
  route: unknown;
  line_user_id: string | null;
  sms_deadline_at: string | null;
  detail: unknown;
  retry_key: string | null;
  tag: string | null;
  marker_at: string | null;
  /** The fallback SMS deadline fell in the quiet hours and was moved to their end (notify/quiet-hours.ts); else null. */
  quiet: unknown;
}>({
  name: "queue",
  when: "a worker decided the route (push, PNP or SMS); the first call's marker is committed with it (PNP: with the request on the wire but for its last byte)",
  from: ["accepted"],
  to: ["queued"],
  timeline: ["queued", "sms_quiet_hours"],
  input: {
    quiet: "jsonb",
    channel: "text",
    route: "jsonb",
    line_user_id: "text",
    sms_deadline_at: "timestamptz",
    detail: "jsonb",
    retry_key: "uuid",
    tag: "text",
    marker_at: "timestamptz",
  },
  set: sql`status = 'queued', channel = x.channel, route = x.route, line_user_id = x.line_user_id, sms_deadline_at = x.sms_deadline_at,
    retry_key = coalesce(n.retry_key, x.retry_key), delivery_tag = coalesce(x.tag, n.delivery_tag),
    pnp_call_started_at = coalesce(x.marker_at, n.pnp_call_started_at)`,
  events: sql`(1, 'queued', x.detail), (2, case when x.quiet is not null and x.quiet <> 'null'::jsonb then 'sms_quiet_hours' end, x.quiet)`,
});

export const noRoute = define<{ route: unknown; detail: unknown }>({
  name: "noRoute",
  when: "no channel can reach the recipient (not a friend, no phone or no approved use case, SMS not allowed)",
  from: ["accepted"],
  to: ["undeliverable"],
  timeline: ["undeliverable"],
  input: { route: "jsonb", detail: "jsonb" },
  set: sql`status = 'undeliverable', channel = 'none', route = x.route, due_at = null`,
  events: sql`(1, 'undeliverable', x.detail)`,
});

export const reroute = define<{ channel: string; route: unknown; reason: string; detail: unknown }>({
  name: "reroute",
  when: "push quota exhausted (429 monthly limit): the next channel takes over at once",
  from: ["queued"],
  to: "same",
  timeline: ["rerouted"],
  input: { channel: "text", route: "jsonb", reason: "text", detail: "jsonb" },
  set: sql`channel = x.channel, route = x.route, attempts = 0, last_error = x.reason, due_at = x.at`,
  events: sql`(1, 'rerouted', x.detail)`,
});

export const rerouteNowhere = define<{ route: unknown; reason: string; detail: unknown; undeliverable: unknown }>({
  name: "rerouteNowhere",
  when: "push quota exhausted and no other channel is allowed",
  from: ["queued"],
  to: ["undeliverable"],
  timeline: ["rerouted", "undeliverable"],
  input: { route: "jsonb", reason: "text", detail: "jsonb", undeliverable: "jsonb" },
  set: sql`status = 'undeliverable', route = x.route, due_at = null, last_error = x.reason`,
  events: sql`(1, 'rerouted', x.detail), (2, 'undeliverable', x.undeliverable)`,
});

// ------------------------------------------------------------------------------------------------ markers before a call

export const markPushKey = define<{ key: string }>({
  name: "markPushKey",
  when: "before a push retry: the X-Line-Retry-Key every later attempt repeats (a 409 then means delivered)",
  from: ["queued"],
  to: "same",
  timeline: [],
  input: { key: "uuid" },
  set: sql`retry_key = coalesce(n.retry_key, x.key)`,
});

export const markPnpCall = define<{ tag: string }>({
  name: "markPnpCall",
  when: "a PNP request is on the wire but for its last byte: from here its outcome may be unknown (never called twice by accident)",
  from: ["queued"],
  to: "same",
  timeline: [],
  input: { tag: "text" },
  guard: sql`n.pnp_call_started_at is null`,
  set: sql`delivery_tag = x.tag, pnp_call_started_at = x.at`,
});

export const markSmsCall = define<object>({
  name: "markSmsCall",
  when: "before an SMS call, unless a delivery or a page view already settled the notice",
  from: ["queued", "fallback_sms"],
  to: "same",
  timeline: [],
  input: {},
  guard: sql`n.sms_call_started_at is null and n.delivered_at is null and n.seen_at is null`,
  set: sql`sms_call_started_at = x.at`,
});
