import { pushMessage } from "../../lib/line/calls.ts";
import { lineMessages, type NextStep, type StoredContent } from "../render.ts";
import { lineOutcome } from "./line-outcome.ts";
import type { Sender } from "./types.ts";

/** Messaging API push to a friend, with the X-Line-Retry-Key committed before the first call (a 409 = delivered). */
export const pushSender: Sender = {
  endpoint: () => "push",
  repeatable: () => true,
  async send(ctx, { row, retryKey }) {
    const messages = await lineMessages(
      ctx.render,
      { id: row.id, content: row.content as StoredContent, nextStep: row.nextStep as NextStep | null, createdAt: row.createdAt, ignoreLine: row.ignoreLine },
      ctx.now(),
      false,
    );
    const res = await pushMessage(ctx.line, { to: row.lineUserId!, messages, retryKey: retryKey! }, ctx.callTimeoutMs);
    return lineOutcome(res, { channel: "push", retryKey, attempt: row.attempts + 1 });
  },
};
