import { type HeldCall, holdPnpMessages, holdPnpTemplate } from "../../lib/line/calls.ts";
import { lineMessages, type NextStep, type StoredContent } from "../render.ts";
import type { RouteDecision } from "../route.ts";
import { lineOutcome } from "./line-outcome.ts";
import type { NotificationRow, Sender } from "./types.ts";

const template = (row: NotificationRow) => ((row.route as RouteDecision | null)?.pnpKind === "template" ? (row.content as StoredContent).template : undefined);

/** X-Line-Delivery-Tag for a notification: derived from its id, so a `delivery` event names the notification. */
export function deliveryTagFor(notificationId: string): string {
  return `oan${notificationId.replace(/-/g, "")}`;
}

/**
 * LINE notification message (PNP) by phone hash: flexible (`messages`) or template. Tagged so the `delivery` event
 * can be matched. Never repeated once it may have reached LINE: there is no retry key for PNP. So the request is
 * held one byte short of complete while the dispatcher commits the sent-marker (`job.commit`), and completed only
 * after: a crash leaves a marker only on a request that may really have reached LINE, but for the moment between the
 * commit and this process hearing of it (docs/states.md, "Crash window").
 */
export const pnpSender: Sender = {
  endpoint: (row) => (template(row) ? "pnp_template" : "pnp"),
  repeatable: () => false,
  async send(ctx, { row, deliveryTag, commit }) {
    const t = template(row);
    const tag = deliveryTag ?? deliveryTagFor(row.id);
    let held: HeldCall;
    if (t) held = holdPnpTemplate(ctx.line, { to: row.phoneHash!, template: t, deliveryTag: tag }, ctx.callTimeoutMs);
    else {
      const messages = await lineMessages(
        ctx.render,
        { id: row.id, content: row.content as StoredContent, nextStep: row.nextStep as NextStep | null, createdAt: row.createdAt, ignoreLine: row.ignoreLine },
        ctx.now(),
        true,
      );
      held = holdPnpMessages(ctx.line, { to: row.phoneHash!, messages, deliveryTag: tag }, ctx.callTimeoutMs);
    }
    let committed: boolean;
    try {
      committed = commit ? await commit() : true;
    } catch (err) {
      held.abort();
      throw err;
    }
    if (!committed) {
      held.abort();
      return { kind: "withdrawn" };
    }
    held.release();
    return lineOutcome(await held.result, { channel: "pnp", kind: t ? "pnp_template" : "pnp", deliveryTag: tag });
  },
};
