import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { notificationStatuses, routeChannels, sqlList, timelineStates } from "./states.ts";
import { webhookDeliveryKinds, webhookDeliveryStatuses } from "./webhooks.ts";

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * Every LINE user we have heard of. `friend` is decided by the newest follow/unfollow event we have seen
 * (`stateEventAt` is that event's own timestamp), so a late or redelivered older event cannot override it.
 */
export const lineUsers = pgTable("line_users", {
  userId: text("user_id").primaryKey(),
  friend: boolean("friend").notNull().default(false),
  isUnblocked: boolean("is_unblocked"),
  followedAt: tz("followed_at"),
  unfollowedAt: tz("unfollowed_at"),
  stateEventAt: tz("state_event_at"),
  stateSource: text("state_source"), // "webhook" | "followers_sync"
  lastMessageAt: tz("last_message_at"),
  firstSeenAt: tz("first_seen_at").notNull().defaultNow(),
  updatedAt: tz("updated_at").notNull().defaultNow(),
});

/** Raw webhook events, stored before we answer 200. The unique key on `webhookEventId` is the dedupe. */
export const webhookEvents = pgTable(
  "webhook_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    webhookEventId: text("webhook_event_id").notNull(),
    type: text("type").notNull(),
    eventTimestamp: tz("event_timestamp"),
    event: jsonb("event").notNull(),
    receivedAt: tz("received_at").notNull().defaultNow(),
    processedAt: tz("processed_at"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    retryAt: tz("retry_at"), // after a failure: not before this
  },
  (t) => [
    uniqueIndex("webhook_events_event_id_uq").on(t.webhookEventId),
    index("webhook_events_unprocessed_idx").on(t.id).where(sql`${t.processedAt} is null`),
    // The notifier looks up a PNP `delivery` event by its tag (delivery.data) right after each send.
    index("webhook_events_delivery_data_idx").on(sql`(${t.event}->'delivery'->>'data')`).where(sql`${t.type} = 'delivery'`),
  ],
);

export const members = pgTable(
  "members",
  {
    memberId: text("member_id").primaryKey(),
    phoneE164: text("phone_e164"),
    phoneHash: text("phone_hash"), // lowercase hex SHA-256 of the E.164 string with "+": LINE PNP's `to`
    name: text("name"),
    lineUserId: text("line_user_id"),
    boundAt: tz("bound_at"),
    erasedAt: tz("erased_at"), // DELETE /members/:id: phone, hash and name erased; the id stays as a pseudonym
    createdAt: tz("created_at").notNull().defaultNow(),
    updatedAt: tz("updated_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("members_line_user_uq").on(t.lineUserId), index("members_phone_hash_idx").on(t.phoneHash)],
);

/**
 * Append-only (a trigger refuses UPDATE and DELETE): it must still explain past sends after a member unbinds.
 * action: "grant" | "withdraw"; method: "binding_link" | "otp" | "liff" | "rebind" | "admin" | "erasure".
 * A member's LINE permission is the latest row that is not a "rebind" (members/consent.ts).
 */
export const consentLedger = pgTable(
  "consent_ledger",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    memberId: text("member_id").notNull(),
    lineUserId: text("line_user_id"), // null: a decision without a LINE user (customer service, erasure)
    action: text("action").notNull(),
    purpose: text("purpose").notNull(),
    noticeVersion: text("notice_version").notNull(),
    method: text("method").notNull(),
    at: tz("at").notNull(),
    detail: jsonb("detail"),
  },
  (t) => [index("consent_ledger_member_idx").on(t.memberId), index("consent_ledger_line_user_idx").on(t.lineUserId)],
);

/**
 * The notification row is the durable job: workers claim rows whose `dueAt` has passed with FOR UPDATE SKIP LOCKED.
 * `status` is one of `notificationStatuses` (states.ts), enforced by a CHECK; only server/src/notify/transitions.ts
 * changes it.
 */
export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id").primaryKey(),
    apiKeyId: text("api_key_id"),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    batchId: uuid("batch_id"),
    memberId: text("member_id"),
    phoneE164: text("phone_e164"),
    phoneHash: text("phone_hash"),
    lineUserId: text("line_user_id"),
    scenario: text("scenario").notNull(),
    urgency: text("urgency").notNull(),
    content: jsonb("content").notNull(), // { messages? , template?, text? }
    nextStep: jsonb("next_step"),
    sms: jsonb("sms"),
    status: text("status", { enum: notificationStatuses }).notNull(),
    channel: text("channel", { enum: routeChannels }), // the channel currently responsible; "none": no route
    route: jsonb("route"), // the route decision: inputs + rule
    // dispatch bookkeeping
    dueAt: tz("due_at"), // when a worker should next look at this row; null = nothing to do
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    retryKey: uuid("retry_key"), // X-Line-Retry-Key, made on the first push attempt, reused on every retry
    deliveryTag: text("delivery_tag"),
    pnpCallStartedAt: tz("pnp_call_started_at"), // sent-marker, committed while the PNP request is on the wire
    // At-least-once PNP (PNP_RESEND_AFTER_SECONDS): when an ambiguous call is made once more, and when it was.
    pnpResendAt: tz("pnp_resend_at"),
    pnpResentAt: tz("pnp_resent_at"),
    smsDeadlineAt: tz("sms_deadline_at"),
    smsCallStartedAt: tz("sms_call_started_at"),
    smsSentAt: tz("sms_sent_at"),
    smsReference: text("sms_reference"),
    smsParts: integer("sms_parts"), // billed parts of the SMS that went out (cost = parts × PRICE_SMS_TWD)
    purgedAt: tz("purged_at"), // RETENTION_DAYS: phone and content removed; states and costs kept for stats
    ignoreLine: text("ignore_line"), // the scenario's "若您已完成…，請忽略此訊息" line, as it was at acceptance
    sentAt: tz("sent_at"),
    deliveredAt: tz("delivered_at"),
    seenAt: tz("seen_at"),
    // `sendAt` of the request (scheduled): nothing goes out before it (due_at starts there).
    sendAt: tz("send_at"),
    createdAt: tz("created_at").notNull().defaultNow(),
    updatedAt: tz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("notifications_idem_uq").on(t.apiKeyId, t.idempotencyKey),
    uniqueIndex("notifications_delivery_tag_uq").on(t.deliveryTag),
    index("notifications_due_idx").on(t.dueAt).where(sql`${t.dueAt} is not null`),
    // Keyset pagination of GET /notifications and the export walk (created_at, id).
    index("notifications_created_idx").on(t.createdAt, t.id),
    index("notifications_batch_idx").on(t.batchId).where(sql`${t.batchId} is not null`),
    index("notifications_phone_hash_idx").on(t.phoneHash),
    index("notifications_member_idx").on(t.memberId),
    check("notifications_status_ck", sql.raw(`status in (${sqlList(notificationStatuses)})`)),
    check("notifications_channel_ck", sql.raw(`channel in (${sqlList(routeChannels)})`)),
  ],
);

/** The timeline: every state transition of a notification, with time and details. */
export const notificationEvents = pgTable(
  "notification_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    notificationId: uuid("notification_id").notNull(),
    at: tz("at").notNull(),
    state: text("state", { enum: timelineStates }).notNull(),
    detail: jsonb("detail"),
  },
  (t) => [
    index("notification_events_notification_idx").on(t.notificationId, t.id),
    check("notification_events_state_ck", sql.raw(`state in (${sqlList(timelineStates)})`)),
  ],
);

/**
 * The account's own use cases (docs/routing.md): seeded with LINE Taiwan's 18; a scenario not listed (or retired) is
 * refused at acceptance, and one with `pnpApproved` false never goes by PNP.
 */
export const scenarios = pgTable("scenarios", {
  scenario: text("scenario").primaryKey(),
  useCaseNo: integer("use_case_no"), // the sales kit's number (1-18); null for an extra approved case by case
  title: text("title").notNull(),
  pnpApproved: boolean("pnp_approved").notNull(),
  ignoreLine: text("ignore_line").notNull(),
  defaultUrgency: text("default_urgency"),
  nextStepType: text("next_step_type"),
  retiredAt: tz("retired_at"),
  createdAt: tz("created_at").notNull().defaultNow(),
  updatedAt: tz("updated_at").notNull().defaultNow(),
});

/** Next-step data the backend upserts; shown on LIFF pages only to the owner or a view-token holder. */
export const orders = pgTable(
  "orders",
  {
    orderId: text("order_id").primaryKey(),
    memberId: text("member_id").notNull(),
    status: text("status").notNull(),
    items: jsonb("items").notNull(), // [{ name, quantity, unitPriceTwd }]
    amountTwd: numeric("amount_twd", { precision: 12, scale: 2 }).notNull(),
    orderedAt: tz("ordered_at"),
    deliveryEta: tz("delivery_eta"),
    trackingUrl: text("tracking_url"),
    detail: jsonb("detail"),
    createdAt: tz("created_at").notNull().defaultNow(),
    updatedAt: tz("updated_at").notNull().defaultNow(),
  },
  (t) => [index("orders_member_idx").on(t.memberId)],
);

export const bills = pgTable(
  "bills",
  {
    billId: text("bill_id").primaryKey(),
    memberId: text("member_id").notNull(),
    status: text("status").notNull(), // unpaid | paid | overdue | cancelled
    amountTwd: numeric("amount_twd", { precision: 12, scale: 2 }).notNull(),
    period: text("period"),
    issuedAt: tz("issued_at"),
    dueAt: tz("due_at"),
    paymentUrl: text("payment_url"),
    items: jsonb("items"),
    detail: jsonb("detail"),
    createdAt: tz("created_at").notNull().defaultNow(),
    updatedAt: tz("updated_at").notNull().defaultNow(),
  },
  (t) => [index("bills_member_idx").on(t.memberId)],
);

/** Single-use binding-link tokens (the JWT's jti); `usedAt` set once, atomically. */
export const bindingTokens = pgTable("binding_tokens", {
  jti: text("jti").primaryKey(),
  memberId: text("member_id").notNull(),
  expiresAt: tz("expires_at").notNull(),
  usedAt: tz("used_at"),
  usedByLineUserId: text("used_by_line_user_id"),
  createdAt: tz("created_at").notNull().defaultNow(),
});

/** Phone + OTP challenges. Only a hash of the code is kept; bound to the LINE user who asked. */
export const otpChallenges = pgTable(
  "otp_challenges",
  {
    id: uuid("id").primaryKey(),
    lineUserId: text("line_user_id").notNull(),
    phoneHash: text("phone_hash").notNull(),
    codeHash: text("code_hash").notNull(),
    expiresAt: tz("expires_at").notNull(),
    attempts: integer("attempts").notNull().default(0),
    consumedAt: tz("consumed_at"),
    createdAt: tz("created_at").notNull(),
  },
  (t) => [index("otp_line_user_idx").on(t.lineUserId, t.createdAt), index("otp_phone_idx").on(t.phoneHash, t.createdAt)],
);

/** Add-friend prompts shown in the LIFF app; a later follow from that user marks the conversion. */
export const friendPrompts = pgTable(
  "friend_prompts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    lineUserId: text("line_user_id").notNull(),
    notificationId: uuid("notification_id"),
    promptedAt: tz("prompted_at").notNull(),
    convertedAt: tz("converted_at"),
  },
  (t) => [index("friend_prompts_user_idx").on(t.lineUserId)],
);

/** SMS sent outside a notification (OTP codes). Notification SMS are tracked on the notification row. */
export const smsOutbox = pgTable("sms_outbox", {
  id: uuid("id").primaryKey(),
  purpose: text("purpose").notNull(),
  phoneHash: text("phone_hash").notNull(),
  provider: text("provider").notNull(),
  status: text("status").notNull(),
  providerReference: text("provider_reference"),
  createdAt: tz("created_at").notNull(),
  sentAt: tz("sent_at"),
});

/**
 * Where outgoing webhooks go: the status callback (STATUS_WEBHOOK_URL) and the LINE webhook forwards
 * (WEBHOOK_FORWARD_URLS), written from the configuration at start-up. The transitions' outbox insert joins the
 * active `status` row, so with no status URL configured no callback row is ever written.
 */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: serial("id").primaryKey(),
    kind: text("kind", { enum: webhookDeliveryKinds }).notNull(),
    url: text("url").notNull(),
    active: boolean("active").notNull().default(true),
    createdAt: tz("created_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("webhook_endpoints_kind_url_uq").on(t.kind, t.url),
    check("webhook_endpoints_kind_ck", sql.raw(`kind in (${sqlList(webhookDeliveryKinds)})`)),
  ],
);

/**
 * The outbox of outgoing webhooks (docs/decisions/0012-webhook-outbox.md): one row per event and endpoint, written
 * in the same statement as what it announces (a transition, an accepted LINE webhook request), delivered by the
 * workers (notify/webhook-delivery.ts). `id` orders a stream: a row is sent only once every earlier row of its
 * `(endpointId, stream)` was delivered. `messageId` is the `webhook-id`, the same on every attempt.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    endpointId: integer("endpoint_id").notNull(),
    kind: text("kind", { enum: webhookDeliveryKinds }).notNull(),
    messageId: text("message_id").notNull(),
    /** Ordering group: the notification id (status), "" (a forward: one stream per URL). */
    stream: text("stream").notNull(),
    eventType: text("event_type").notNull(),
    notificationId: uuid("notification_id"),
    /** status: the event's data; forward: null. */
    payload: jsonb("payload"),
    /** forward: the request's original bytes (base64) and its x-line-signature. */
    body: text("body"),
    signature: text("signature"),
    status: text("status", { enum: webhookDeliveryStatuses }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** When a worker should next try; pushed out by a lease while an attempt is in flight. */
    nextAttemptAt: tz("next_attempt_at").notNull(),
    firstAttemptAt: tz("first_attempt_at"),
    lastAttemptAt: tz("last_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: tz("created_at").notNull(),
    deliveredAt: tz("delivered_at"),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_message_uq").on(t.messageId),
    index("webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index("webhook_deliveries_stream_idx").on(t.endpointId, t.stream, t.id).where(sql`${t.status} <> 'delivered'`),
    index("webhook_deliveries_status_idx").on(t.status, t.id),
    index("webhook_deliveries_notification_idx").on(t.notificationId),
    check("webhook_deliveries_kind_ck", sql.raw(`kind in (${sqlList(webhookDeliveryKinds)})`)),
    check("webhook_deliveries_status_ck", sql.raw(`status in (${sqlList(webhookDeliveryStatuses)})`)),
  ],
);

/**
 * LINE's own delivery counts (Messaging API "Get number of sent push messages" / "… LINE notification messages"),
 * one row per LINE statistics day (UTC+9, `yyyy-mm-dd`) and kind ("push" | "pnp" | "pnp_template"). Only finished
 * days whose answer was "ready" are kept: LINE's figures for them do not change, so each is fetched once.
 */
export const lineDeliveryCounts = pgTable(
  "line_delivery_counts",
  {
    day: text("day").notNull(),
    kind: text("kind").notNull(),
    success: integer("success").notNull(),
    fetchedAt: tz("fetched_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.day, t.kind] })],
);

/**
 * The fleet's send rate per LINE endpoint (docs/decisions/0017-fleet-send-rate.md): `next_at` is the theoretical
 * arrival time of the next call across every process on this database. A worker leases a chunk of call slots by
 * moving it forward in one UPDATE … RETURNING; PGlite (one process) paces locally and never writes here.
 */
export const sendBudget = pgTable("send_budget", {
  endpoint: text("endpoint").primaryKey(),
  nextAt: tz("next_at").notNull(),
});
