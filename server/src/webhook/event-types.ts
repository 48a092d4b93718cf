/**
 * The webhook event types LINE documents (Messaging API reference, webhook event objects; `delivery` for LINE
 * notification messages). Anything else is still stored, but counted under "other": a metric label must come from a
 * closed set, or a signed body could mint thousands of 5,000-character series.
 */
export const LINE_EVENT_TYPES: ReadonlySet<string> = new Set([
  "message",
  "unsend",
  "follow",
  "unfollow",
  "join",
  "leave",
  "memberJoined",
  "memberLeft",
  "postback",
  "videoPlayComplete",
  "beacon",
  "accountLink",
  "things",
  "membership",
  "module",
  "activated",
  "deactivated",
  "botSuspended",
  "botResumed",
  "delivery",
]);

/** The metrics label for an event type. */
export const typeLabel = (type: string): string => (LINE_EVENT_TYPES.has(type) ? type : "other");

/** The longest `type` we keep in the inbox's column (the event itself is stored whole). */
export const MAX_TYPE_LENGTH = 64;
