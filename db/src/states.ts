/**
 * The notification state machine's vocabulary, shared by the schema (CHECK constraints) and the server
 * (server/src/notify/transitions.ts owns every transition). docs/states.md has the transition table.
 */

/** `notifications.status`. */
export const notificationStatuses = [
  "accepted",
  "queued",
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
export type NotificationStatus = (typeof notificationStatuses)[number];

/** States after which nothing is ever sent again for a notification (a late delivery event is still recorded). */
export const terminalStatuses = [
  "delivered",
  "sms_sent",
  "delivered_late",
  "undelivered",
  "undeliverable",
  "failed",
  "cancelled",
] as const satisfies readonly NotificationStatus[];

/** The channels a notification can be sent by. */
export const channels = ["push", "pnp", "sms"] as const;
export type Channel = (typeof channels)[number];
/** `notifications.channel`: the channel currently responsible, or "none" when no route exists. */
export const routeChannels = [...channels, "none"] as const;
export type RouteChannel = (typeof routeChannels)[number];

/**
 * `notification_events.state`: every timeline entry. The statuses themselves, plus entries that record a step
 * without changing the status.
 */
export const timelineStates = [
  ...notificationStatuses,
  "rerouted",
  "retry_scheduled",
  "push_sent",
  "push_failed",
  "sms_cancelled",
  "seen",
  "delivery_received",
  "pnp_resend",
  "sms_quiet_hours",
] as const;
export type TimelineState = (typeof timelineStates)[number];

/** `x in ('a', 'b')` for a CHECK constraint (the values are our own constants, never input). */
export const sqlList = (values: readonly string[]): string => values.map((v) => `'${v.replace(/'/g, "''")}'`).join(", ");
