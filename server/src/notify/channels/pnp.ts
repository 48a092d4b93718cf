import { pushPnpMessages, pushPnpTemplate } from "../../lib/line/calls.ts";
import type { RouteDecision } from "../route.ts";
import { lineMessages, type NextStep, type StoredContent } from "../render.ts";
import { lineOutcome } from "./line-outcome.ts";
import type { NotificationRow, Sender } from "./types.ts";

const template = (row: NotificationRow) => ((row.route as RouteDecision | null)?.pnpKind === "template" ? (row.content as StoredContent).template : undefined);

/** X-Line-Delivery-Tag for a notification: derived from its id, so a `delivery` event names the notification. */
export function deliveryTagFor(notificationId: string): string {
  return `oan${notificationId.replace(/-/g, "")}`;
}

/**
 * LINE notification message (PNP) by phone hash: flexible (`messages`) or template. Tagged so the `delivery` event
 * can be matched. Never repeated once it may have reached LINE: there is no retry key for PNP.
 */
export const pnpSender: Sender = {
  endpoint: (row) => (template(row) ? "pnp_template" : "pnp"),
  repeatable: () => false,
  async send(ctx, { row, deliveryTag }) {
    const t = template(row);
    const tag = deliveryTag ?? deliveryTagFor(row.id);
    if (t) {
      const res = await pushPnpTemplate(ctx.line, { to: row.phoneHash!, template: t, deliveryTag: tag }, ctx.callTimeoutMs);
      return lineOutcome(res, { channel: "pnp", kind: "pnp_template", deliveryTag: tag });
    }
    const messages = await lineMessages(ctx.render, { id: row.id, content: row.content as StoredContent, nextStep: row.nextStep as NextStep | null }, ctx.now(), true);
    const res = await pushPnpMessages(ctx.line, { to: row.phoneHash!, messages, deliveryTag: tag }, ctx.callTimeoutMs);
    return lineOutcome(res, { channel: "pnp", kind: "pnp", deliveryTag: tag });
  },
};
