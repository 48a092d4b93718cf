import { type NotificationStatus, notificationStatuses } from "./states.ts";

/** Outgoing webhooks (server/src/outbox/delivery.ts): what kind, and where a delivery stands. */
export const webhookDeliveryKinds = ["status", "forward"] as const;
export type WebhookDeliveryKind = (typeof webhookDeliveryKinds)[number];

/** pending: to be sent (or blocked behind an earlier row of its stream); failed: retries ran out (replayable). */
export const webhookDeliveryStatuses = ["pending", "delivered", "failed"] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/**
 * The notification states announced by a status callback (`notification.<state>`): every timeline entry naming one.
 * Every status but `queued` (an internal step: the route is decided, nothing has gone out yet).
 */
export const callbackStates = notificationStatuses.filter((s): s is Exclude<NotificationStatus, "queued"> => s !== "queued");
