import { randomUUID } from "node:crypto";
import { type DbOrTx, sql } from "@oa-notify/db";
import { DEFAULT_PROMO_WORDS } from "../env.ts";
import type { Clock } from "../lib/clock.ts";
import { normalizePhone, phoneHash } from "../lib/phone.ts";
import { type NotificationInput, pnpForbiddenIndex, SEND_AT_MAX_DAYS } from "./input.ts";
import { contentTexts, promoMatcher } from "./promo.ts";
import { lookupMembers, lookupNextStepOwners } from "./recipients.ts";
import { decideRoute, type RouteDecision, type RouteInputs } from "./route.ts";
import { lookupScenarios } from "./scenarios.ts";
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

export { lookupMembers };

const matchers = new WeakMap<readonly string[], (texts: string[]) => string[]>();
const matcherFor = (words: readonly string[]) => {
  let m = matchers.get(words);
  if (!m) matchers.set(words, (m = promoMatcher(words)));
  return m;
};

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
  promoWords = DEFAULT_PROMO_WORDS,
  accept = acceptRows,
}: {
  db: DbOrTx;
  clock: Clock;
  apiKeyId: string;
  items: IngestItem[];
  batchId: string | null;
  /** Idempotency keys seen earlier in the same request (a batch is ingested in chunks). */
  keysInBatch?: Map<string, { hash: string; id: string }>;
  /** The promotion guard's words (PROMO_WORDS). */
  promoWords?: readonly string[];
  /** The write of the accepted rows and their timeline entries (default: one INSERT; batches on PostgreSQL: COPY). */
  accept?: (db: DbOrTx, rows: Record<string, unknown>[], at: string) => Promise<string[]>;
}): Promise<IngestResult[]> {
  const now = clock.now();
  const promo = matcherFor(promoWords);
  const registry = await lookupScenarios(
    db,
    items.map((i) => i.value.scenario),
  );
  const owners = await lookupNextStepOwners(
    db,
    items.flatMap((i) => (i.value.nextStep ? [i.value.nextStep] : [])),
  );
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
    const scenario = registry.get(v.scenario);
    if (!scenario) {
      results.push(
        fail(item.index, 422, `${item.where}.scenario`, `unknown scenario ${v.scenario}: not in this account's scenario registry (GET /api/v1/scenarios)`),
      );
      continue;
    }
    const urgency = v.urgency ?? scenario.defaultUrgency;
    if (!urgency) {
      results.push(fail(item.index, 422, `${item.where}.urgency`, `required: scenario ${v.scenario} has no default urgency`));
      continue;
    }
    if (v.nextStep) {
      const owner = owners.get(`${v.nextStep.type}:${v.nextStep.id}`);
      const why = !owner
        ? `${v.nextStep.type} ${v.nextStep.id} does not exist (create it first: PUT /api/v1/${v.nextStep.type}s/${v.nextStep.id})`
        : !v.memberId
          ? `a next step needs memberId: the ${v.nextStep.type} must belong to the recipient member`
          : owner !== v.memberId
            ? `${v.nextStep.type} ${v.nextStep.id} does not belong to member ${v.memberId}`
            : null;
      if (why) {
        results.push(fail(item.index, 422, `${item.where}.nextStep`, why));
        continue;
      }
    }
    const matched = v.promotional ? [] : promo(contentTexts(v));
    if (matched.length > 0) {
      results.push({
        index: item.index,
        ok: false,
        status: 422,
        error: {
          code: "promotional_content",
          message: `promotional wording (${matched.join(", ")}): LINE notification messages may not advertise; send it with promotional: true (push to friends only) or reword it`,
          details: [{ field: `${item.where}.text`, message: "promotional wording", matched }],
        },
      });
      continue;
    }
    const lineUserId = member?.line_user_id ?? null;
    const withdrawnAt = member?.line_withdrawn_at ? new Date(member.line_withdrawn_at).toISOString() : null;
    const friend = Boolean(lineUserId && member?.friend);
    const friendNow = friend && !withdrawnAt;
    const approved = scenario.pnpApproved;
    const inputs: RouteInputs = {
      urgency,
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
      promotional: Boolean(v.promotional),
      lineConsentWithdrawnAt: withdrawnAt,
      blocked: Boolean(lineUserId && member?.blocked),
    };
    const route = decideRoute(inputs, now, "accepted");
    if (v.promotional && route.channel !== "push") {
      results.push(fail(item.index, 422, `${item.where}.promotional`, `promotional content goes by push to LINE friends only: ${route.reason}`));
      continue;
    }
    if (!friendNow && !approved && route.channel !== "sms") {
      results.push(
        fail(
          item.index,
          422,
          `${item.where}.scenario`,
          `${v.scenario} is not approved for LINE notification messages in this account and the recipient is not a friend of the OA`,
        ),
      );
      continue;
    }
    if (!friendNow && !e164) {
      results.push(fail(item.index, 422, `${item.where}.phone`, "the recipient is not a LINE friend and no phone number is known: nothing can reach them"));
      continue;
    }
    const bad = v.template ? -1 : pnpForbiddenIndex(v.messages);
    if (!friendNow && bad >= 0) {
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
    const sendAt = v.sendAt ? new Date(v.sendAt) : null;
    if (sendAt && sendAt.getTime() > now.getTime() + SEND_AT_MAX_DAYS * 86_400_000) {
      results.push(fail(item.index, 422, `${item.where}.sendAt`, `at most ${SEND_AT_MAX_DAYS} days ahead`));
      continue;
    }
    const id = randomUUID();
    if (item.idempotencyKey) keysInBatch.set(item.idempotencyKey, { hash: item.hash, id });
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
      urgency,
      ignore_line: scenario.ignoreLine,
      content: {
        ...(v.messages ? { messages: v.messages } : {}),
        ...(v.template ? { template: v.template } : {}),
        ...(v.text ? { text: v.text } : {}),
        ...(v.eventAt ? { eventAt: v.eventAt } : {}),
      },
      next_step: v.nextStep ?? null,
      sms: v.sms ?? null,
      route,
      channel: route.channel,
      send_at: sendAt ? sendAt.toISOString() : null,
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
