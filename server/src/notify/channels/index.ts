import type { Channel } from "@oa-notify/db";
import { pnpSender } from "./pnp.ts";
import { pushSender } from "./push.ts";
import { smsSender } from "./sms.ts";
import type { Sender } from "./types.ts";

/** The channels as data: one sender per channel, all behind one signature (docs/states.md). */
export const senders: Record<Channel, Sender> = { push: pushSender, pnp: pnpSender, sms: smsSender };

export { deliveryTagFor } from "./pnp.ts";
export type { Endpoint, NotificationRow, Outcome, SendContext, Sender, SendJob } from "./types.ts";
