import { callbackStates, pgArray, type SQL, sql } from "@oa-notify/db";

/*
 * The status-callback half of the webhook outbox (docs/decisions/0012-webhook-outbox.md), as a statement fragment the
 * state machine embeds: every transition (state-engine.ts) and the acceptance insert (transitions.ts `acceptRows`)
 * write their callback rows in the SAME statement as the change they announce, so a change and its callback commit
 * together or not at all. One row per timeline entry that names a callback state (`callbackStates`) and per active
 * `status` endpoint; none when STATUS_WEBHOOK_URL is unset (no endpoint row).
 */

/**
 * `insert into webhook_deliveries …` from `source`, a query yielding the columns
 * `id, ord, state, at, channel, member_id, scenario, batch_id, line_delivered, sms_sent`.
 */
export function statusOutboxInsert(source: SQL): SQL {
  return sql`insert into webhook_deliveries (endpoint_id, kind, message_id, stream, event_type, notification_id, payload, next_attempt_at, created_at)
      select e.id, 'status', 'msg_' || replace(gen_random_uuid()::text, '-', ''), s.id::text, 'notification.' || s.state, s.id,
        jsonb_build_object('id', s.id, 'status', s.state, 'channel', s.channel, 'memberId', s.member_id, 'scenario', s.scenario,
          'batchId', s.batch_id, 'at', s.at, 'lineDelivered', s.line_delivered, 'smsSent', s.sms_sent),
        s.at, s.at
      from (${source}) s join webhook_endpoints e on e.kind = 'status' and e.active
      where s.state = any(${pgArray([...callbackStates])}::text[])
      order by s.id, s.ord, e.id`;
}
