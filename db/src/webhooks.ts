/** Outgoing webhooks (server/src/notify/webhook-delivery.ts): what kind, and where a delivery stands. */
export const webhookDeliveryKinds = ["status", "forward"] as const;
export type WebhookDeliveryKind = (typeof webhookDeliveryKinds)[number];

/** pending: to be sent (or blocked behind an earlier row of its stream); failed: retries ran out (replayable). */
export const webhookDeliveryStatuses = ["pending", "delivered", "failed"] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/** The notification states announced by a status callback (`notification.<state>`): every timeline entry naming one. */
export const callbackStates = [
  "accepted",
  "sent",
  "delivered",
  "fallback_sms",
  "sms_sent",
  "delivered_late",
  "undelivered",
  "undeliverable",
  "failed",
  "cancelled",
] as const;
