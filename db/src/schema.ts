import { sql } from "drizzle-orm";
import { bigserial, boolean, check, index, integer, jsonb, numeric, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

import { notificationStatuses, routeChannels, sqlList, timelineStates } from "./states.ts";

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
    createdAt: tz("created_at").notNull().defaultNow(),
    updatedAt: tz("updated_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("members_line_user_uq").on(t.lineUserId), index("members_phone_hash_idx").on(t.phoneHash)],
);

/**
 * Append-only (a trigger refuses UPDATE and DELETE): it must still explain past sends after a member unbinds.
 * action: "grant" | "withdraw"; method: "binding_link" | "otp" | "liff" | "rebind" | "admin".
 */
export const consentLedger = pgTable(
  "consent_ledger",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    memberId: text("member_id").notNull(),
    lineUserId: text("line_user_id").notNull(),
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
    sentAt: tz("sent_at"),
    deliveredAt: tz("delivered_at"),
    seenAt: tz("seen_at"),
    createdAt: tz("created_at").notNull().defaultNow(),
    updatedAt: tz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("notifications_idem_uq").on(t.apiKeyId, t.idempotencyKey),
    uniqueIndex("notifications_delivery_tag_uq").on(t.deliveryTag),
    index("notifications_due_idx").on(t.dueAt).where(sql`${t.dueAt} is not null`),
    index("notifications_created_idx").on(t.createdAt),
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
 * The fleet's send rate per LINE endpoint (docs/decisions/0017-fleet-send-rate.md): `next_at` is the theoretical
 * arrival time of the next call across every process on this database. A worker leases a chunk of call slots by
 * moving it forward in one UPDATE … RETURNING; PGlite (one process) paces locally and never writes here.
 */
export const sendBudget = pgTable("send_budget", {
  endpoint: text("endpoint").primaryKey(),
  nextAt: tz("next_at").notNull(),
});
