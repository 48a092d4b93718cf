import { validateTemplatePnp } from "../template-pnp.ts";
import { badRequest, type Ctx, type Handlers, HttpError, type RequestChecks, type Result } from "./http.ts";
import { DAY, type EmulatorState, type Held, lineStatsDay } from "./state.ts";
import type { InboxItem, SimUser } from "./types.ts";

/**
 * LINE notification messages (PNP, 通知型訊息) by hashed phone number: flexible `POST /bot/pnp/push` (200 `{}`) and
 * template `POST /v2/bot/message/pnp/templated/push` (202 `{}`), and the delivered-message counts
 * (https://developers.line.biz/en/reference/line-notification-messages/). What happens to a PNP depends on the
 * recipient, the four delivery conditions of README.md ("Sandbox"):
 * - no LINE user has the number, or the user refused PNP → 422 at once;
 * - the user blocked the OA → 200 and silence, never delivered, even after unblocking;
 * - consent "unset", or the last SMS verification older than 180 days → held until the user consents / verifies,
 *   dropped (silence) after 24 h;
 * - otherwise delivered, and a `delivery` webhook follows (webhooks-out.ts), `delivery.data` = the delivery tag or
 *   else the hash.
 */

const VERIFICATION_VALID_MS = 180 * DAY;
const HOLD_MS = DAY;
/** LINE notification messages may carry any Messaging API message type except these */
const PNP_FORBIDDEN_TYPES = new Set(["image", "video", "audio"]);
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface PnpDeps {
  state: EmulatorState;
  checks: RequestChecks;
  /** queues a delivered PNP's `delivery` webhook */
  enqueueDelivery(data: string): void;
}

export function createPnp({ state, checks, enqueueDelivery }: PnpDeps) {
  const { clock } = state;
  const verified = (u: SimUser) => !!u.lastSmsVerifiedAt && clock.now().getTime() - u.lastSmsVerifiedAt.getTime() <= VERIFICATION_VALID_MS;

  const deliver = (item: InboxItem, data: string) => {
    const now = clock.now();
    item.delivered = true;
    item.status = "delivered";
    item.deliveredAt = now.toISOString();
    state.bump(`${item.kind}:${lineStatsDay(now)}`);
    enqueueDelivery(data);
  };

  /** Releases held PNPs that may now be delivered and drops those held for over 24 h. */
  const settleHolds = (onlyUser?: string) => {
    const now = clock.now().getTime();
    const keep: Held[] = [];
    let touched = false;
    for (const h of state.held) {
      if (onlyUser && h.userId !== onlyUser && now - h.heldAt <= HOLD_MS) {
        keep.push(h);
        continue;
      }
      const u = state.users.get(h.userId);
      if (now - h.heldAt > HOLD_MS || !u || u.blocked || u.pnpConsent === "no") {
        h.item.status = "dropped";
        touched = true;
      } else if (u.pnpConsent === "yes" && verified(u)) {
        deliver(h.item, h.data);
        touched = true;
      } else keep.push(h);
    }
    state.held = keep;
    if (touched) state.changed();
  };
  // The 24-h drop happens by the (injected) clock; a sweep applies it even when nobody looks at an inbox.
  const holdSweep = setInterval(() => settleHolds(), 60_000);
  holdSweep.unref();

  const accept = (ctx: Ctx, kind: "pnp" | "pnp_template", to: string, content: Pick<InboxItem, "messages" | "template">, okStatus: 200 | 202): Result => {
    const userId = state.byHash.get(to);
    const u = userId ? state.users.get(userId) : undefined;
    // Unknown number or refused consent: LINE says so at once.
    if (!u || u.pnpConsent === "no") throw new HttpError(422, { message: "Failed to send messages" });
    const now = clock.now();
    const item: InboxItem = {
      kind,
      at: now.toISOString(),
      requestId: ctx.requestId,
      ...content,
      ...(ctx.deliveryTag ? { deliveryTag: ctx.deliveryTag } : {}),
      delivered: false,
    };
    state.pushInbox(u.userId, item);
    state.acceptedLog.push({ kind, to, requestId: ctx.requestId, at: now.toISOString(), ...(ctx.deliveryTag ? { deliveryTag: ctx.deliveryTag } : {}) });
    const data = ctx.deliveryTag ?? to;
    if (u.blocked)
      item.status = "blocked"; // silence: never delivered, even after unblocking
    else if (u.pnpConsent === "unset" || !verified(u)) {
      item.status = "held";
      state.held.push({ userId: u.userId, item, data, heldAt: now.getTime() });
    } else deliver(item, data);
    state.changed();
    return { status: okStatus, body: {} };
  };
  const notSha256 = () => badRequest([{ message: "The value must be a valid SHA-256 digest.", property: "to" }]);

  const handlers: Handlers<"pnp" | "pnp_template" | "stats"> = {
    pnp(ctx) {
      checks.noRetryKey(ctx);
      checks.params("pushMessagesByPhone", ctx);
      checks.deliveryTag(ctx);
      // LINE's own message for a bad hash, ahead of the schema's generic pattern error.
      if (typeof ctx.body?.to === "string" && !SHA256_HEX.test(ctx.body.to)) throw notSha256();
      checks.body("pushMessagesByPhone", ctx);
      const { to, messages } = ctx.body as { to: string; messages: { type: string }[] };
      if (!SHA256_HEX.test(to)) throw notSha256();
      const forbidden = messages.flatMap((m, i) =>
        PNP_FORBIDDEN_TYPES.has(m.type)
          ? [{ message: `Message type '${m.type}' is not supported for LINE notification messages`, property: `messages[${i}].type` }]
          : [],
      );
      if (forbidden.length) throw badRequest(forbidden);
      checks.texts(messages);
      return accept(ctx, "pnp", to, { messages }, 200);
    },
    pnp_template(ctx) {
      // Not in LINE's OpenAPI document: its documented rules are a zod schema (../template-pnp.ts).
      checks.noRetryKey(ctx);
      checks.deliveryTag(ctx);
      const r = validateTemplatePnp(ctx.body);
      if (!r.ok) throw badRequest(r.details);
      return accept(ctx, "pnp_template", r.value.to, { template: { templateKey: r.value.templateKey, body: r.value.body ?? {} } }, 202);
    },
    /** delivered messages per UTC+9 day: flexible PNP, template PNP and push (`GET /v2/bot/message/delivery/…`) */
    stats(ctx) {
      const path = ctx.req.url!.split("?")[0]!;
      const date = ctx.query.get("date") ?? "";
      const valid = /^\d{8}$/.test(date) && !Number.isNaN(Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T00:00:00Z`));
      if (!valid) throw new HttpError(400, { message: "The value for the 'date' parameter is invalid" });
      const kind = path.endsWith("/pnp/templated") ? "pnp_template" : path.endsWith("/pnp") ? "pnp" : "push";
      if (date > lineStatsDay(clock.now())) return { status: 200, body: { status: "unready" } };
      return { status: 200, body: { status: "ready", success: state.counts.get(`${kind}:${date}`) ?? 0 } };
    },
  };

  return {
    handlers,
    settleHolds,
    /** the user answers the consent prompt with yes: held PNPs are delivered (if verified) */
    consentNow(userId: string) {
      state.patchUser(userId, { pnpConsent: "yes" });
      settleHolds(userId);
    },
    /** the user passes SMS verification now: held PNPs are delivered (if consented) */
    verifyNow(userId: string) {
      state.patchUser(userId, { lastSmsVerifiedAt: clock.now() });
      settleHolds(userId);
    },
    close() {
      clearInterval(holdSweep);
    },
  };
}
