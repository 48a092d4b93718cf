import { randomUUID } from "node:crypto";
import { type DbOrTx, sql } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { normalizePhone, phoneHash } from "../lib/phone.ts";
import { APPROVED_SCENARIOS, type NotificationInput, pnpForbiddenIndex } from "./input.ts";
import { decideRoute, type RouteDecision, type RouteInputs } from "./route.ts";
import { acceptRows } from "./transitions.ts";

export interface IngestItem {
  index: number;
  value: NotificationInput;
  hash: string;
  idempotencyKey: string | null;
  /** where the item sits in the request, for error fields: "body" or "notifications.12" */
  where: string;
}
export type IngestResult =
  | { index: number; ok: true; id: string; status: string; route: RouteDecision | null; duplicate: boolean }
  | { index: number; ok: false; status: 400 | 409 | 422; error: { code: string; message: string; details?: unknown } };

interface MemberRow {
  member_id: string;
  phone_e164: string | null;
  line_user_id: string | null;
  friend: boolean | null;
}

const fail = (index: number, status: 400 | 409 | 422, field: string, message: string): IngestResult => ({
  index,
  ok: false,
  status,
  error: {
    code: status === 409 ? "conflict" : status === 422 ? "unprocessable" : "validation_failed",
    message: `${field}: ${message}`,
    details: [{ field, message }],
  },
});

export async function lookupMembers(db: DbOrTx, memberIds: string[]): Promise<Map<string, MemberRow>> {
  const out = new Map<string, MemberRow>();
  if (memberIds.length === 0) return out;
  const res = (await db.execute(sql`
    select m.member_id, m.phone_e164, m.line_user_id, lu.friend
    from members m left join line_users lu on lu.user_id = m.line_user_id
    where m.member_id in (select value from json_array_elements_text(${JSON.stringify([...new Set(memberIds)])}::json))`)) as unknown as { rows: MemberRow[] };
  for (const r of res.rows) out.set(r.member_id, r);
  return out;
}

interface KeyedRow {
  id: string;
  idempotency_key: string;
  request_hash: string;
  status: string;
  route: RouteDecision | null;
}

/** Notifications already accepted under these Idempotency-Keys for this API key. */
async function lookupKeys(db: DbOrTx, apiKeyId: string, keys: string[]): Promise<Map<string, KeyedRow>> {
  if (keys.length === 0) return new Map();
  const res = (await db.execute(sql`
    select id, idempotency_key, request_hash, status, route from notifications
    where api_key_id = ${apiKeyId} and idempotency_key in (select value from json_array_elements_text(${JSON.stringify(keys)}::json))`)) as unknown as {
    rows: KeyedRow[];
  };
  return new Map(res.rows.map((r) => [r.idempotency_key, r]));
}

/**
 * Accepts validated notifications: resolves each recipient (member → phone, bound LINE user, friend now), rejects
 * what can never be sent (unapproved scenario to a non-friend, PNP-forbidden media, nobody to reach), and inserts the
 * rest in ONE statement (rows + their `accepted` timeline entries); run on the pool, every accepted row is durable
 * when this resolves (the batch route runs it per chunk inside one transaction and answers after the commit).
 * The stored route is a preview: the worker decides again at send time, when friend state may differ.
 */
export async function ingestNotifications({
  db,
  clock,
  apiKeyId,
  items,
  batchId,
  keysInBatch = new Map(),
  accept = acceptRows,
}: {
  db: DbOrTx;
  clock: Clock;
  apiKeyId: string;
  items: IngestItem[];
  batchId: string | null;
  /** Idempotency keys seen earlier in the same request (a batch is ingested in chunks). */
  keysInBatch?: Map<string, { hash: string; id: string }>;
  /** The write of the accepted rows and their timeline entries (default: one INSERT; batches on PostgreSQL: COPY). */
  accept?: (db: DbOrTx, rows: Record<string, unknown>[], at: string) => Promise<string[]>;
}): Promise<IngestResult[]> {
  const now = clock.now();
  const members = await lookupMembers(
    db,
    items.flatMap((i) => (i.value.memberId ? [i.value.memberId] : [])),
  );
  // A retried request is answered from what was accepted, before anything about the recipient is checked again:
  // the friend state, a binding or the member may have changed since, and the retry must still get the same id.
  const previous = await lookupKeys(
    db,
    apiKeyId,
    items.flatMap((i) => (i.idempotencyKey && !keysInBatch.has(i.idempotencyKey) ? [i.idempotencyKey] : [])),
  );
  const results: IngestResult[] = [];
  const rows: Record<string, unknown>[] = [];
  const pending: { item: IngestItem; id: string; route: RouteDecision }[] = [];

  for (const item of items) {
    const v = item.value;
    if (item.idempotencyKey) {
      const prev = keysInBatch.get(item.idempotencyKey);
      if (prev) {
        results.push(
          prev.hash === item.hash
            ? { index: item.index, ok: true, id: prev.id, status: "accepted", route: null, duplicate: true }
            : fail(item.index, 409, `${item.where}.idempotencyKey`, "already used with a different body"),
        );
        continue;
      }
      const stored = previous.get(item.idempotencyKey);
      if (stored) {
        results.push(
          stored.request_hash === item.hash
            ? { index: item.index, ok: true, id: stored.id, status: stored.status, route: stored.route, duplicate: true }
            : fail(item.index, 409, "Idempotency-Key", "this key was already used with a different body"),
        );
        continue;
      }
    }
    let e164: string | null = null;
    if (v.phone) {
      const p = normalizePhone(v.phone);
      if (!p.ok) {
        results.push(fail(item.index, 400, `${item.where}.phone`, p.reason));
        continue;
      }
      e164 = p.e164;
    }
    const member = v.memberId ? members.get(v.memberId) : undefined;
    if (v.memberId && !member && !e164) {
      results.push(fail(item.index, 422, `${item.where}.memberId`, `unknown member ${v.memberId} and no phone given`));
      continue;
    }
    e164 ??= member?.phone_e164 ?? null;
    const lineUserId = member?.line_user_id ?? null;
    const friend = Boolean(lineUserId && member?.friend);
    const approved = APPROVED_SCENARIOS.has(v.scenario);
    if (!friend && !approved) {
      results.push(
        fail(
          item.index,
          422,
          `${item.where}.scenario`,
          `${v.scenario} is not an approved LINE notification-message use case and the recipient is not a friend of the OA`,
        ),
      );
      continue;
    }
    if (!friend && !e164) {
      results.push(fail(item.index, 422, `${item.where}.phone`, "the recipient is not a LINE friend and no phone number is known: nothing can reach them"));
      continue;
    }
    const bad = v.template ? -1 : pnpForbiddenIndex(v.messages);
    if (!friend && bad >= 0) {
      results.push(
        fail(
          item.index,
          422,
          `${item.where}.messages.${bad}.type`,
          "LINE notification messages (PNP) cannot carry image, video or audio, and the recipient is not a friend",
        ),
      );
      continue;
    }
    const id = randomUUID();
    if (item.idempotencyKey) keysInBatch.set(item.idempotencyKey, { hash: item.hash, id });
    const inputs: RouteInputs = {
      urgency: v.urgency,
      scenario: v.scenario,
      scenarioApproved: approved,
      memberId: v.memberId ?? null,
      memberFound: Boolean(member),
      lineUserId,
      friend,
      phoneKnown: Boolean(e164),
      smsRequested: Boolean(v.sms),
      smsAfterSeconds: v.sms?.afterSeconds ?? null,
      content: v.messages ? "messages" : v.template ? "template" : "text",
      hasTemplate: Boolean(v.template),
    };
    const route = decideRoute(inputs, now, "accepted");
    pending.push({ item, id, route });
    rows.push({
      id,
      api_key_id: apiKeyId,
      idempotency_key: item.idempotencyKey,
      request_hash: item.hash,
      batch_id: batchId,
      member_id: v.memberId ?? null,
      phone_e164: e164,
      phone_hash: e164 ? phoneHash(e164) : null,
      line_user_id: lineUserId,
      scenario: v.scenario,
      urgency: v.urgency,
      content: { ...(v.messages ? { messages: v.messages } : {}), ...(v.template ? { template: v.template } : {}), ...(v.text ? { text: v.text } : {}) },
      next_step: v.nextStep ?? null,
      sms: v.sms ?? null,
      route,
      channel: route.channel,
    });
  }

  if (rows.length > 0) {
    // One statement: the rows and their timeline entries commit together (the `accept` transition).
    const ok = new Set(await accept(db, rows, now.toISOString()));
    const conflicts: typeof pending = [];
    for (const p of pending) {
      if (ok.has(p.id)) results.push({ index: p.item.index, ok: true, id: p.id, status: "accepted", route: p.route, duplicate: false });
      else conflicts.push(p);
    }
    if (conflicts.length > 0) {
      // An Idempotency-Key seen before (a retried request): same body → the same notification, else 409.
      // Lost a race with a concurrent request carrying the same key (the lookup above ran before its commit).
      const byKey = await lookupKeys(
        db,
        apiKeyId,
        conflicts.map((c) => c.item.idempotencyKey!),
      );
      for (const c of conflicts) {
        const e = byKey.get(c.item.idempotencyKey!);
        if (e && e.request_hash === c.item.hash) results.push({ index: c.item.index, ok: true, id: e.id, status: e.status, route: e.route, duplicate: true });
        else results.push(fail(c.item.index, 409, "Idempotency-Key", "this key was already used with a different body"));
      }
    }
  }
  // Duplicates inside one batch point at an id accepted above: give them its real status.
  return results.sort((a, b) => a.index - b.index);
}
