import type { EventHandler } from "../webhook/handlers.ts";
import { apply, deliveryReceived } from "./transitions.ts";

/**
 * The webhook processor's handler for PNP `delivery` events (registered in app.ts): `delivery.data` is our
 * X-Line-Delivery-Tag (channels/pnp.ts), so the event names its notification. The state change is the
 * `deliveryReceived` transition; an event that names no notification (yet) stays in the inbox, where the dispatcher
 * looks for it right after recording the send.
 */
export const deliveryEventHandler: EventHandler = async ({ tx, event, at }) => {
  const tag = event["delivery"]?.data;
  if (typeof tag !== "string" || tag.length === 0) return;
  await apply(tx, deliveryReceived, [{ tag, at: at.toISOString(), detail: { by: "delivery_webhook", tag, webhookEventId: event["webhookEventId"] } }]);
};
