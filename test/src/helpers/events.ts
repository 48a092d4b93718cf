import { randomBytes } from "node:crypto";

/** Typed builders for LINE webhook bodies (shapes from webhook.yml). */
let seq = 0;
export const ulidLike = () =>
  `01${Date.now().toString(36).toUpperCase().padStart(10, "0")}${(seq++).toString(36).toUpperCase().padStart(4, "0")}${randomBytes(5).toString("hex").toUpperCase()}`.slice(
    0,
    26,
  );
export const lineUserId = () => `U${randomBytes(16).toString("hex")}`;
export const DESTINATION = "U8e742f61d673b39c7fff3cecb7536ef0";

interface Common {
  webhookEventId?: string;
  timestamp?: number;
  isRedelivery?: boolean;
}
const common = (c: Common) => ({
  mode: "active",
  timestamp: c.timestamp ?? Date.now(),
  webhookEventId: c.webhookEventId ?? ulidLike(),
  deliveryContext: { isRedelivery: c.isRedelivery ?? false },
});

export const followEvent = (userId: string, c: Common & { isUnblocked?: boolean } = {}) => ({
  type: "follow",
  replyToken: randomBytes(16).toString("hex"),
  source: { type: "user", userId },
  follow: { isUnblocked: c.isUnblocked ?? false },
  ...common(c),
});
export const unfollowEvent = (userId: string, c: Common = {}) => ({ type: "unfollow", source: { type: "user", userId }, ...common(c) });
export const textMessageEvent = (userId: string, text: string, c: Common = {}) => ({
  type: "message",
  replyToken: randomBytes(16).toString("hex"),
  source: { type: "user", userId },
  message: { id: String(Date.now()), type: "text", text, quoteToken: randomBytes(8).toString("hex") },
  ...common(c),
});
export const postbackEvent = (userId: string, data: string, c: Common = {}) => ({
  type: "postback",
  replyToken: randomBytes(16).toString("hex"),
  source: { type: "user", userId },
  postback: { data },
  ...common(c),
});
export const deliveryEvent = (data: string, c: Common = {}) => ({ type: "delivery", delivery: { data }, ...common(c) });

export const webhookBody = (events: unknown[]) => JSON.stringify({ destination: DESTINATION, events });
