import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK } from "jose";
import { ulid } from "ulid";
import { systemClock, type Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/logger.ts";
import { normalizePhone, phoneHash } from "../lib/phone.ts";
import { loadOpenApiValidators, type LineErrorDetail, type OperationValidator } from "./openapi.ts";
import { validateTemplatePnp } from "./template-pnp.ts";
import { isLineUserId } from "../lib/ids.ts";

/*
 * A LINE Platform emulator: LINE's real paths at the root of its own port (the SDK drops path prefixes), the
 * behaviours the product depends on (product.md §8, line-platform.md §§2–4, 6), and fault injection. One plain
 * node:http handler, because the notifier's benchmarks push thousands of requests a second through it.
 */

export interface SimUserInput {
  phone?: string;
  friend?: boolean;
  blocked?: boolean;
  pnpConsent?: "yes" | "no" | "unset";
  lastSmsVerifiedAt?: Date | null;
  displayName?: string;
  userId?: string;
}
export interface SimUser extends Required<Omit<SimUserInput, "phone">> {
  phone: string | null;
  phoneHash: string | null;
}
export type InboxStatus = "delivered" | "held" | "dropped" | "blocked" | "not_friend";
export interface InboxItem {
  kind: "push" | "pnp" | "pnp_template";
  at: string;
  requestId: string;
  messages?: unknown[];
  template?: unknown;
  deliveryTag?: string;
  delivered: boolean;
  /** why it is (not) in the user's chat: held until consent/verification, dropped after 24 h, blocked, … */
  status?: InboxStatus;
  deliveredAt?: string;
}
export interface Faults {
  rateLimit?: { endpoint?: string; count: number; retryAfterSeconds?: number };
  monthlyQuota?: { endpoint?: string; on: boolean };
  serverError?: { endpoint?: string; count: number };
  latencyMs?: number;
  dropConnection?: { endpoint?: string; count: number; afterAccept?: boolean };
}
export interface RequestRecord {
  at: string;
  method: string;
  path: string;
  status: number;
  retryKey?: string;
  deliveryTag?: string;
  body: unknown;
}
export interface AcceptedRecord {
  kind: "push" | "pnp" | "pnp_template";
  to: string;
  retryKey?: string;
  deliveryTag?: string;
  requestId: string;
  at: string;
}
export interface WebhookLogEntry {
  at: string;
  body: string;
  status: number | null;
  error?: string;
}
export interface SmsRecord {
  text: string;
  reference: string;
  at: string;
}
export interface LineEmulator {
  url: string;
  close(): Promise<void>;
  createUser(input?: SimUserInput): SimUser;
  updateUser(userId: string, patch: Partial<SimUserInput>): SimUser;
  getUser(userId: string): SimUser | undefined;
  listUsers(): SimUser[];
  follow(userId: string, opts?: { isUnblocked?: boolean }): Promise<void>;
  unfollow(userId: string): Promise<void>;
  sendText(userId: string, text: string): Promise<void>;
  consentNow(userId: string): Promise<void>;
  verifyNow(userId: string): Promise<void>;
  inbox(userId: string): InboxItem[];
  requests(): RequestRecord[];
  accepted(): AcceptedRecord[];
  setFaults(f: Faults): void;
  clearFaults(): void;
  flushDeliveries(): Promise<void>;
  mintIdToken(userId: string, opts?: { aud?: string; expiresInSeconds?: number; nonce?: string }): Promise<string>;
  webhookLog(): WebhookLogEntry[];
  recordSms(sms: { to: string; text: string; reference: string; at: Date }): void;
  smsInbox(phoneE164: string): SmsRecord[];
}
export interface LineEmulatorExtras {
  setWebhookUrl(url: string): void;
  webhookUrl(): string | undefined;
  faults(): Faults;
  /** the bot's own user id: `destination` of every webhook */
  botUserId: string;
  /** every phone that received an SMS, newest first */
  smsPhones(): string[];
  /** persists the state file now (also done shortly after every change) */
  save(): void;
  /** API requests received and not yet answered (e.g. waiting out injected latency) */
  inFlight(): number;
}
export type StartedLineEmulator = LineEmulator & LineEmulatorExtras;

export interface LineEmulatorOptions {
  port?: number;
  host?: string;
  channelSecret: string;
  channelAccessToken: string;
  loginChannelId: string;
  webhookUrl?: string;
  deliveryDelayMs?: number;
  clock?: Clock;
  stateFile?: string;
  validateRequests?: boolean;
  logger?: Logger;
  /** keep at most this many entries in requests() (default: all; `pnpm start` keeps a few thousand) */
  requestLogLimit?: number;
}

const DAY = 24 * 60 * 60 * 1000;
const VERIFICATION_VALID_MS = 180 * DAY;
const HOLD_MS = DAY;
const RETRY_KEY_MS = DAY;
const PUSH_REACH_AFTER_MESSAGE_MS = 7 * DAY;
const MAX_BODY = 2 * 1024 * 1024;
const INBOX_LIMIT = 500;
const WEBHOOK_LOG_LIMIT = 500;
const WEBHOOK_BATCH = 100;
const WEBHOOK_CONCURRENCY = 16;
const PNP_FORBIDDEN_TYPES = new Set(["image", "video", "audio"]);

const AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid.";

type Endpoint =
  | "push"
  | "multicast"
  | "pnp"
  | "pnp_template"
  | "followers"
  | "profile"
  | "quota"
  | "stats"
  | "jwks"
  | "verify";

interface Held {
  userId: string;
  item: InboxItem;
  data: string;
  heldAt: number;
}
interface PendingDelivery {
  event: Record<string, unknown>;
  dueAt: number;
}
interface PersistedState {
  version: 1;
  users: (Omit<SimUser, "lastSmsVerifiedAt"> & { lastSmsVerifiedAt: string | null; lastMessageAt?: number })[];
  inboxes: Record<string, InboxItem[]>;
  held: Held[];
  sms: Record<string, SmsRecord[]>;
  webhookLog: WebhookLogEntry[];
  counts: Record<string, number>;
  signingKey?: { kid: string; privateJwk: JWK };
  /** a restart must not turn a retried push into a second message, nor lose a delivery webhook not yet sent */
  retryKeys?: [string, { requestId: string; sentMessages: unknown[]; at: number }][];
  pendingDeliveries?: Record<string, unknown>[];
}

class HttpError {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {}
}
const badRequest = (details: LineErrorDetail[]) =>
  new HttpError(400, { message: `The request body has ${details.length} error(s)`, details });

/** yyyyMMdd in UTC+9: LINE's statistics day. */
export function lineStatsDay(at: Date): string {
  return new Date(at.getTime() + 9 * 3600_000).toISOString().slice(0, 10).replace(/-/g, "");
}

export async function startLineEmulator(opts: LineEmulatorOptions): Promise<StartedLineEmulator> {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger;
  const deliveryDelayMs = opts.deliveryDelayMs ?? 500;
  const validate = opts.validateRequests ?? true;
  const requestLogLimit = opts.requestLogLimit ?? Infinity;
  const botUserId = `U${createHmac("sha256", opts.channelSecret).update("bot").digest("hex").slice(0, 32)}`;
  let webhookUrl = opts.webhookUrl;

  // Compiled once per process; each check is then a few microseconds.
  const spec = validate ? loadOpenApiValidators() : null;
  const ops: Partial<Record<string, OperationValidator>> = {};
  if (spec) {
    for (const id of ["pushMessage", "multicast", "pushMessagesByPhone", "getFollowers", "getProfile", "getPNPMessageStatistics", "getNumberOfSentPushMessages"]) {
      try {
        ops[id] = spec.forOperation(id);
      } catch {
        /* an operation missing from an older spec copy: served without validation */
      }
    }
  }

  // ---- state ----
  const users = new Map<string, SimUser & { lastMessageAt?: number }>();
  const byHash = new Map<string, string>();
  const inboxes = new Map<string, InboxItem[]>();
  let held: Held[] = [];
  const sms = new Map<string, SmsRecord[]>();
  let webhookLogEntries: WebhookLogEntry[] = [];
  const counts = new Map<string, number>(); // "pnp:20261126", "pnp_template:…", "push:…", "push_month:202611"
  const retryKeys = new Map<string, { requestId: string; sentMessages: unknown[]; at: number }>();
  const requestLog: RequestRecord[] = [];
  const acceptedLog: AcceptedRecord[] = [];
  let faults: Faults = {};
  let msgSeq = 461230966842064897n + BigInt(Date.now() % 1_000_000) * 1000n;

  let signingKey: { kid: string; privateJwk: JWK } | undefined;
  let persisted: PersistedState | undefined;
  if (opts.stateFile) {
    try {
      persisted = JSON.parse(readFileSync(opts.stateFile, "utf8")) as PersistedState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") log?.warn({ err, file: opts.stateFile }, "sandbox state unreadable; starting empty");
    }
  }
  if (persisted?.version === 1) {
    for (const u of persisted.users) {
      const user = { ...u, lastSmsVerifiedAt: u.lastSmsVerifiedAt ? new Date(u.lastSmsVerifiedAt) : null };
      users.set(u.userId, user);
      if (u.phoneHash) byHash.set(u.phoneHash, u.userId);
    }
    for (const [k, v] of Object.entries(persisted.inboxes ?? {})) inboxes.set(k, v);
    held = persisted.held ?? [];
    // Held entries must point at the inbox objects, so releasing one updates the inbox the console shows.
    for (const h of held) {
      const match = inboxes.get(h.userId)?.find((i) => i.requestId === h.item.requestId);
      if (match) h.item = match;
    }
    for (const [k, v] of Object.entries(persisted.sms ?? {})) sms.set(k, v);
    webhookLogEntries = persisted.webhookLog ?? [];
    for (const [k, v] of Object.entries(persisted.counts ?? {})) counts.set(k, v);
    signingKey = persisted.signingKey;
    for (const [k, v] of persisted.retryKeys ?? []) retryKeys.set(k, v);
  }
  if (!signingKey) {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    signingKey = { kid: randomBytes(8).toString("hex"), privateJwk: await exportJWK(privateKey) };
  }
  const { d: _d, ...publicJwk } = signingKey.privateJwk;
  const privateKey = await importJWK(signingKey.privateJwk, "ES256");
  const publicKey = await importJWK(publicJwk, "ES256");
  const jwks = JSON.stringify({ keys: [{ ...publicJwk, kid: signingKey.kid, alg: "ES256", use: "sig" }] });

  let saveTimer: NodeJS.Timeout | undefined;
  const saveNow = () => {
    if (!opts.stateFile) return;
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = undefined;
    const state: PersistedState = {
      version: 1,
      users: [...users.values()].map((u) => ({ ...u, lastSmsVerifiedAt: u.lastSmsVerifiedAt?.toISOString() ?? null })),
      inboxes: Object.fromEntries(inboxes),
      held,
      sms: Object.fromEntries(sms),
      webhookLog: webhookLogEntries.slice(-200),
      counts: Object.fromEntries(counts),
      signingKey,
      retryKeys: [...retryKeys].filter(([, v]) => clock.now().getTime() - v.at <= RETRY_KEY_MS).slice(-20_000),
      pendingDeliveries: pending.map((p) => p.event),
    };
    mkdirSync(dirname(opts.stateFile), { recursive: true });
    const tmp = `${opts.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, opts.stateFile);
  };
  const changed = () => {
    if (!opts.stateFile || saveTimer) return;
    saveTimer = setTimeout(() => {
      try {
        saveNow();
      } catch (err) {
        log?.warn({ err }, "sandbox state not saved");
      }
    }, 300);
    saveTimer.unref();
  };

  const bump = (key: string, n = 1) => counts.set(key, (counts.get(key) ?? 0) + n);
  const nextMessageId = () => (msgSeq += 1n).toString();
  const newRequestId = () => randomUUID();

  const toSimUser = (input: SimUserInput, base?: SimUser): SimUser & { lastMessageAt?: number } => {
    let phone = base?.phone ?? null;
    if (input.phone !== undefined) {
      if (input.phone === null || input.phone === "") phone = null;
      else {
        const n = normalizePhone(input.phone);
        if (!n.ok) throw new Error(`phone: ${n.reason}`);
        phone = n.e164;
      }
    }
    const userId = input.userId ?? base?.userId ?? `U${randomBytes(16).toString("hex")}`;
    if (!isLineUserId(userId)) throw new Error("userId: must be U followed by 32 lowercase hex digits");
    return {
      ...base,
      userId,
      phone,
      phoneHash: phone ? phoneHash(phone) : null,
      friend: input.friend ?? base?.friend ?? false,
      blocked: input.blocked ?? base?.blocked ?? false,
      pnpConsent: input.pnpConsent ?? base?.pnpConsent ?? "yes",
      lastSmsVerifiedAt: input.lastSmsVerifiedAt !== undefined ? input.lastSmsVerifiedAt : (base?.lastSmsVerifiedAt ?? clock.now()),
      displayName: input.displayName ?? base?.displayName ?? `Sim ${userId.slice(1, 7)}`,
    };
  };
  const publicUser = (u: SimUser & { lastMessageAt?: number }): SimUser => {
    const { lastMessageAt: _m, ...rest } = u;
    return { ...rest };
  };
  const indexUser = (u: SimUser, prev?: SimUser) => {
    if (prev?.phoneHash && byHash.get(prev.phoneHash) === prev.userId) byHash.delete(prev.phoneHash);
    if (u.phoneHash) {
      const other = byHash.get(u.phoneHash);
      if (other && other !== u.userId) throw new Error("phone: another simulated user already has this number");
      byHash.set(u.phoneHash, u.userId);
    }
  };

  const pushInbox = (userId: string, item: InboxItem) => {
    let list = inboxes.get(userId);
    if (!list) inboxes.set(userId, (list = []));
    list.push(item);
    if (list.length > INBOX_LIMIT) list.splice(0, list.length - INBOX_LIMIT);
  };

  // ---- webhooks ----
  const inflight = new Set<Promise<void>>();
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = () => (active < WEBHOOK_CONCURRENCY ? (active++, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)).then(() => void active++));
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  const logWebhook = (entry: WebhookLogEntry) => {
    webhookLogEntries.push(entry);
    if (webhookLogEntries.length > WEBHOOK_LOG_LIMIT) webhookLogEntries.splice(0, webhookLogEntries.length - WEBHOOK_LOG_LIMIT);
    changed();
  };
  let closed = false;

  /** One signed POST; LINE-style redelivery (isRedelivery: true) on failure, a couple of times. */
  const postWebhook = async (events: Record<string, unknown>[], attempt = 0): Promise<void> => {
    const url = webhookUrl;
    const body = JSON.stringify({ destination: botUserId, events });
    if (!url) {
      logWebhook({ at: clock.now().toISOString(), body, status: null, error: "no webhook URL set" });
      return;
    }
    const signature = createHmac("sha256", opts.channelSecret).update(body).digest("base64");
    await acquire();
    let status: number | null = null;
    let error: string | undefined;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", "x-line-signature": signature, "user-agent": "LineBotWebhook/2.0" },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      error = (err as Error).message;
    } finally {
      release();
    }
    logWebhook({ at: clock.now().toISOString(), body, status, ...(error ? { error } : {}) });
    if ((status === null || status >= 300) && attempt < 2 && !closed) {
      // Redelivered in the background, so a console click or a test's follow() does not wait for the back-off.
      log?.warn({ status, error, attempt }, "sandbox webhook failed; will redeliver");
      const again = events.map((e) => ({ ...e, deliveryContext: { isRedelivery: true } }));
      track(
        new Promise<void>((r) => setTimeout(r, 500 * 3 ** attempt).unref()).then(() => (closed ? undefined : postWebhook(again, attempt + 1))),
      );
    }
  };
  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    return p;
  };
  const eventBase = () => ({
    webhookEventId: ulid(),
    deliveryContext: { isRedelivery: false },
    timestamp: clock.now().getTime(),
    mode: "active",
  });
  const sendEvents = (events: Record<string, unknown>[]) => track(postWebhook(events));

  let pending: PendingDelivery[] = [];
  let deliveryTimer: NodeJS.Timeout | undefined;
  const flushDue = (all: boolean) => {
    deliveryTimer = undefined;
    if (!all && !webhookUrl && !closed) {
      // Not attached yet (a restart restoring pending deliveries): wait for our server instead of dropping them.
      deliveryTimer = setTimeout(() => flushDue(false), 1000);
      deliveryTimer.unref();
      return;
    }
    const now = Date.now();
    const due = all ? pending : pending.filter((p) => p.dueAt <= now);
    pending = all ? [] : pending.filter((p) => p.dueAt > now);
    for (let i = 0; i < due.length; i += WEBHOOK_BATCH) sendEvents(due.slice(i, i + WEBHOOK_BATCH).map((p) => p.event));
    scheduleDeliveries();
  };
  const scheduleDeliveries = () => {
    if (deliveryTimer || pending.length === 0 || closed) return;
    deliveryTimer = setTimeout(() => flushDue(false), Math.max(0, pending[0]!.dueAt - Date.now()));
  };
  for (const event of persisted?.pendingDeliveries ?? []) pending.push({ event, dueAt: Date.now() + deliveryDelayMs });
  scheduleDeliveries();
  const enqueueDelivery = (data: string) => {
    pending.push({ event: { type: "delivery", delivery: { data }, ...eventBase() }, dueAt: Date.now() + deliveryDelayMs });
    scheduleDeliveries();
  };

  // ---- PNP delivery conditions (line-platform.md §3.2) ----
  const verified = (u: SimUser) => !!u.lastSmsVerifiedAt && clock.now().getTime() - u.lastSmsVerifiedAt.getTime() <= VERIFICATION_VALID_MS;
  const deliverPnp = (item: InboxItem, data: string) => {
    const now = clock.now();
    item.delivered = true;
    item.status = "delivered";
    item.deliveredAt = now.toISOString();
    bump(`${item.kind}:${lineStatsDay(now)}`);
    enqueueDelivery(data);
  };
  /** Releases held PNPs that may now be delivered and drops those held for over 24 h. */
  const settleHolds = (onlyUser?: string) => {
    const now = clock.now().getTime();
    const keep: Held[] = [];
    let touched = false;
    for (const h of held) {
      if (onlyUser && h.userId !== onlyUser && now - h.heldAt <= HOLD_MS) {
        keep.push(h);
        continue;
      }
      const u = users.get(h.userId);
      if (now - h.heldAt > HOLD_MS || !u || u.blocked || u.pnpConsent === "no") {
        h.item.status = "dropped";
        touched = true;
      } else if (u.pnpConsent === "yes" && verified(u)) {
        deliverPnp(h.item, h.data);
        touched = true;
      } else keep.push(h);
    }
    held = keep;
    if (touched) changed();
  };
  const holdSweep = setInterval(() => settleHolds(), 60_000);
  holdSweep.unref();

  // ---- endpoint handlers ----
  interface Ctx {
    req: IncomingMessage;
    body: any;
    query: URLSearchParams;
    requestId: string;
    retryKey?: string;
    deliveryTag?: string;
    params: Record<string, string>;
  }
  interface Result {
    status: number;
    body: unknown;
    headers?: Record<string, string>;
  }

  const checkParams = (opId: string, ctx: Ctx) => {
    const v = ops[opId];
    if (!v) return;
    const header: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(ctx.req.headers)) if (typeof val === "string") header[k] = val;
    const query: Record<string, unknown> = {};
    for (const [k, val] of ctx.query) query[k] = val;
    const r = v.params({ header, query, path: { ...ctx.params } });
    if (!r.ok) throw badRequest(r.details);
  };
  const checkBody = (opId: string, ctx: Ctx) => {
    const v = ops[opId];
    if (!v) return;
    const r = v.body(ctx.body);
    if (!r.ok) throw badRequest(r.details);
  };
  // LINE's documented limits the spec does not carry as schema keywords.
  const checkTexts = (messages: any[]) => {
    const details: LineErrorDetail[] = [];
    messages.forEach((m, i) => {
      if (m?.type === "text" && typeof m.text === "string") {
        if (m.text.length === 0) details.push({ message: "May not be empty", property: `messages[${i}].text` });
        else if (m.text.length > 5000) details.push({ message: "Length must be between 0 and 5000", property: `messages[${i}].text` });
      }
    });
    if (details.length) throw badRequest(details);
  };
  const noRetryKey = (ctx: Ctx) => {
    if (ctx.retryKey !== undefined) {
      throw new HttpError(400, { message: "The X-Line-Retry-Key header is not supported by this API", details: [{ message: "Not supported", property: "X-Line-Retry-Key" }] });
    }
  };
  const checkTag = (ctx: Ctx) => {
    const t = ctx.deliveryTag;
    if (t !== undefined && (t.length < 16 || t.length > 100)) {
      throw badRequest([{ message: "Length must be between 16 and 100", property: "X-Line-Delivery-Tag" }]);
    }
  };
  const checkRetryKey = (ctx: Ctx): Result | null => {
    if (!ctx.retryKey) return null;
    const hit = retryKeys.get(ctx.retryKey);
    if (!hit) return null;
    if (clock.now().getTime() - hit.at > RETRY_KEY_MS) {
      retryKeys.delete(ctx.retryKey);
      return null;
    }
    return {
      status: 409,
      body: { message: "The retry key is already accepted", sentMessages: hit.sentMessages },
      headers: { "x-line-accepted-request-id": hit.requestId },
    };
  };
  const reachableByPush = (u: SimUser & { lastMessageAt?: number }) =>
    !u.blocked && (u.friend || (u.lastMessageAt !== undefined && clock.now().getTime() - u.lastMessageAt <= PUSH_REACH_AFTER_MESSAGE_MS));
  const rememberRetryKey = (ctx: Ctx, sentMessages: unknown[]) => {
    if (!ctx.retryKey) return;
    retryKeys.set(ctx.retryKey, { requestId: ctx.requestId, sentMessages, at: clock.now().getTime() });
    if (retryKeys.size > 200_000) {
      const cutoff = clock.now().getTime() - RETRY_KEY_MS;
      for (const [k, v] of retryKeys) if (v.at < cutoff) retryKeys.delete(k);
    }
  };
  const monthKey = () => lineStatsDay(clock.now()).slice(0, 6);

  const pushTo = (ctx: Ctx, to: string, messages: unknown[]) => {
    const u = users.get(to);
    if (!u) return false;
    const ok = reachableByPush(u);
    const now = clock.now();
    pushInbox(to, {
      kind: "push",
      at: now.toISOString(),
      requestId: ctx.requestId,
      messages,
      delivered: ok,
      status: ok ? "delivered" : u.blocked ? "blocked" : "not_friend",
      ...(ok ? { deliveredAt: now.toISOString() } : {}),
    });
    if (ok) bump(`push:${lineStatsDay(now)}`);
    bump(`push_month:${monthKey()}`);
    return true;
  };

  const handlers: Record<Endpoint, (ctx: Ctx) => Result | Promise<Result>> = {
    push(ctx) {
      checkParams("pushMessage", ctx);
      checkBody("pushMessage", ctx);
      checkTexts(ctx.body.messages);
      const dup = checkRetryKey(ctx);
      if (dup) return dup;
      const { to, messages } = ctx.body as { to: string; messages: unknown[] };
      if (!users.has(to)) {
        throw new HttpError(400, { message: "The property, 'to', in the request body is invalid (line: -, column: -)" });
      }
      const sentMessages = messages.map(() => ({ id: nextMessageId(), quoteToken: randomBytes(24).toString("base64url") }));
      pushTo(ctx, to, messages);
      rememberRetryKey(ctx, sentMessages);
      acceptedLog.push({ kind: "push", to, requestId: ctx.requestId, at: clock.now().toISOString(), ...(ctx.retryKey ? { retryKey: ctx.retryKey } : {}) });
      changed();
      return { status: 200, body: { sentMessages } };
    },
    multicast(ctx) {
      checkParams("multicast", ctx);
      checkBody("multicast", ctx);
      checkTexts(ctx.body.messages);
      const dup = checkRetryKey(ctx);
      if (dup) return dup;
      const { to, messages } = ctx.body as { to: string[]; messages: unknown[] };
      // LINE answers 200 for unknown, blocked and non-friend ids alike; they just get nothing.
      for (const id of to) pushTo(ctx, id, messages);
      rememberRetryKey(ctx, []);
      for (const id of to) acceptedLog.push({ kind: "push", to: id, requestId: ctx.requestId, at: clock.now().toISOString(), ...(ctx.retryKey ? { retryKey: ctx.retryKey } : {}) });
      changed();
      return { status: 200, body: {} };
    },
    pnp(ctx) {
      noRetryKey(ctx);
      checkParams("pushMessagesByPhone", ctx);
      checkTag(ctx);
      if (typeof ctx.body?.to === "string" && !/^[0-9a-f]{64}$/.test(ctx.body.to)) {
        throw badRequest([{ message: "The value must be a valid SHA-256 digest.", property: "to" }]);
      }
      checkBody("pushMessagesByPhone", ctx);
      const { to, messages } = ctx.body as { to: string; messages: { type: string }[] };
      if (!/^[0-9a-f]{64}$/.test(to)) throw badRequest([{ message: "The value must be a valid SHA-256 digest.", property: "to" }]);
      const forbidden = messages.flatMap((m, i) => (PNP_FORBIDDEN_TYPES.has(m.type) ? [{ message: `Message type '${m.type}' is not supported for LINE notification messages`, property: `messages[${i}].type` }] : []));
      if (forbidden.length) throw badRequest(forbidden);
      checkTexts(messages);
      return acceptPnp(ctx, "pnp", to, { messages }, 200);
    },
    pnp_template(ctx) {
      noRetryKey(ctx);
      checkTag(ctx);
      const r = validateTemplatePnp(ctx.body);
      if (!r.ok) throw badRequest(r.details);
      return acceptPnp(ctx, "pnp_template", r.value.to, { template: { templateKey: r.value.templateKey, body: r.value.body ?? {} } }, 202);
    },
    followers(ctx) {
      checkParams("getFollowers", ctx);
      const limit = ctx.query.has("limit") ? Number(ctx.query.get("limit")) : 300;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest([{ message: "Must be between 1 and 1000", property: "limit" }]);
      let offset = 0;
      const start = ctx.query.get("start");
      if (start) {
        const m = /^o(\d+)$/.exec(Buffer.from(start, "base64url").toString("utf8"));
        if (!m) throw new HttpError(400, { message: "Invalid start parameter" });
        offset = Number(m[1]);
      }
      const ids = [...users.values()].filter((u) => u.friend && !u.blocked).map((u) => u.userId);
      const page = ids.slice(offset, offset + limit);
      const next = offset + limit < ids.length ? Buffer.from(`o${offset + limit}`).toString("base64url") : undefined;
      return { status: 200, body: next ? { userIds: page, next } : { userIds: page } };
    },
    profile(ctx) {
      checkParams("getProfile", ctx);
      const u = users.get(ctx.params["userId"]!);
      if (!u || !reachableByPush(u)) throw new HttpError(404, { message: "Not found" });
      return { status: 200, body: { displayName: u.displayName, userId: u.userId, language: "zh-TW" } };
    },
    quota(ctx) {
      const path = ctx.req.url!.split("?")[0]!;
      if (path.endsWith("/consumption")) return { status: 200, body: { totalUsage: counts.get(`push_month:${monthKey()}`) ?? 0 } };
      const limited = quotaFaultOn("push");
      return { status: 200, body: limited ? { type: "limited", value: counts.get(`push_month:${monthKey()}`) ?? 0 } : { type: "none" } };
    },
    stats(ctx) {
      const path = ctx.req.url!.split("?")[0]!;
      const date = ctx.query.get("date") ?? "";
      const valid = /^\d{8}$/.test(date) && !Number.isNaN(Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T00:00:00Z`));
      if (!valid) throw new HttpError(400, { message: "The value for the 'date' parameter is invalid" });
      const kind = path.endsWith("/pnp/templated") ? "pnp_template" : path.endsWith("/pnp") ? "pnp" : "push";
      if (date > lineStatsDay(clock.now())) return { status: 200, body: { status: "unready" } };
      return { status: 200, body: { status: "ready", success: counts.get(`${kind}:${date}`) ?? 0 } };
    },
    jwks() {
      return { status: 200, body: jwks, headers: { "cache-control": "public, max-age=300" } };
    },
    async verify(ctx) {
      const form = new URLSearchParams(typeof ctx.body === "string" ? ctx.body : "");
      const idToken = form.get("id_token");
      const clientId = form.get("client_id");
      const fail = (d: string) => new HttpError(400, { error: "invalid_request", error_description: d });
      if (!idToken || !clientId) throw fail("Invalid IdToken.");
      try {
        const { payload } = await jwtVerify(idToken, publicKey, { issuer: "https://access.line.me", audience: clientId, currentDate: clock.now() });
        const nonce = form.get("nonce");
        if (nonce && payload["nonce"] !== nonce) throw fail("Invalid IdToken Nonce.");
        const userId = form.get("user_id");
        if (userId && payload.sub !== userId) throw fail("Invalid IdToken Subject Identifier.");
        return { status: 200, body: payload };
      } catch (err) {
        if (err instanceof HttpError) throw err;
        const code = (err as { code?: string }).code;
        throw fail(code === "ERR_JWT_EXPIRED" ? "IdToken expired." : code === "ERR_JWT_CLAIM_VALIDATION_FAILED" ? "Invalid IdToken Audience." : "Invalid IdToken.");
      }
    },
  };

  const acceptPnp = (ctx: Ctx, kind: "pnp" | "pnp_template", to: string, content: Pick<InboxItem, "messages" | "template">, okStatus: 200 | 202): Result => {
    const userId = byHash.get(to);
    const u = userId ? users.get(userId) : undefined;
    // Unknown number or refused consent: LINE says so at once (line-platform.md §3.2).
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
    pushInbox(u.userId, item);
    acceptedLog.push({ kind, to, requestId: ctx.requestId, at: now.toISOString(), ...(ctx.deliveryTag ? { deliveryTag: ctx.deliveryTag } : {}) });
    const data = ctx.deliveryTag ?? to;
    if (u.blocked) item.status = "blocked"; // silence: never delivered, even after unblocking
    else if (u.pnpConsent === "unset" || !verified(u)) {
      item.status = "held";
      held.push({ userId: u.userId, item, data, heldAt: now.getTime() });
    } else deliverPnp(item, data);
    changed();
    return { status: okStatus, body: {} };
  };

  const quotaFaultOn = (ep: Endpoint) => {
    const q = faults.monthlyQuota;
    return !!q?.on && matches(q.endpoint ?? "push", ep);
  };
  const matches = (target: string, ep: Endpoint) => target === "*" || target === ep || (target === "push" && ep === "multicast");

  const routes: Record<string, Endpoint> = {
    "POST /v2/bot/message/push": "push",
    "POST /v2/bot/message/multicast": "multicast",
    "POST /bot/pnp/push": "pnp",
    "POST /v2/bot/message/pnp/templated/push": "pnp_template",
    "GET /v2/bot/followers/ids": "followers",
    "GET /v2/bot/message/quota": "quota",
    "GET /v2/bot/message/quota/consumption": "quota",
    "GET /v2/bot/message/delivery/pnp": "stats",
    "GET /v2/bot/message/delivery/pnp/templated": "stats",
    "GET /v2/bot/message/delivery/push": "stats",
    "GET /oauth2/v2.1/certs": "jwks",
    "POST /oauth2/v2.1/verify": "verify",
  };
  const PUBLIC_ENDPOINTS = new Set<Endpoint>(["jwks", "verify"]);
  const route = (method: string, path: string): { ep: Endpoint; params: Record<string, string> } | null => {
    const ep = routes[`${method} ${path}`];
    if (ep) return { ep, params: {} };
    const m = method === "GET" ? /^\/v2\/bot\/profile\/([^/]+)$/.exec(path) : null;
    if (m) return { ep: "profile", params: { userId: decodeURIComponent(m[1]!) } };
    return null;
  };

  const record = (r: RequestRecord) => {
    requestLog.push(r);
    // Trimmed in chunks: a splice per request would move the whole log on every request of a benchmark.
    if (requestLog.length > requestLogLimit + Math.max(1, requestLogLimit >> 2)) requestLog.splice(0, requestLog.length - requestLogLimit);
  };

  /** Consumes one unit of a counted fault aimed at this endpoint. */
  const take = (f: { endpoint?: string; count: number } | undefined, ep: Endpoint, def = "*"): boolean => {
    if (!f || f.count <= 0 || !matches(f.endpoint ?? def, ep)) return false;
    f.count--;
    return true;
  };

  let inFlight = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    inFlight++;
    try {
      await handleRequest(req, res, raw);
    } finally {
      inFlight--;
    }
  };
  const handleRequest = async (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    const requestId = newRequestId();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? "" : url.slice(q + 1));
    const method = req.method ?? "GET";
    const retryKey = headerOf(req, "x-line-retry-key");
    const deliveryTag = headerOf(req, "x-line-delivery-tag");
    let body: unknown = undefined;
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record({ at: clock.now().toISOString(), method, path, status, body, ...(retryKey !== undefined ? { retryKey } : {}), ...(deliveryTag !== undefined ? { deliveryTag } : {}) });
      const text = typeof payload === "string" ? payload : JSON.stringify(payload);
      res.writeHead(status, { "content-type": "application/json", "x-line-request-id": requestId, "content-length": Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const latency = faults.latencyMs;
    if (latency && latency > 0) await new Promise((r) => setTimeout(r, latency));

    const match = route(method, path);
    if (!match) return send(404, { message: "Not found" });
    const { ep } = match;
    if (!PUBLIC_ENDPOINTS.has(ep)) {
      const auth = req.headers.authorization;
      if (!auth || auth !== `Bearer ${opts.channelAccessToken}`) return send(401, { message: AUTH_FAILED });
    }
    if (raw.length > 0) {
      const ct = req.headers["content-type"] ?? "";
      if (ep === "verify") body = raw.toString("utf8");
      else if (ct.includes("json") || ct === "") {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          return send(400, { message: "The request body has 1 error(s)", details: [{ message: "Invalid JSON", property: "" }] });
        }
      } else return send(415, { message: "Unsupported Media Type" });
    }

    // Faults, in the order a client would meet them on the wire.
    const drop = faults.dropConnection;
    const dropThis = take(drop, ep);
    if (dropThis && !drop!.afterAccept) {
      record({ at: clock.now().toISOString(), method, path, status: 0, body, ...(retryKey !== undefined ? { retryKey } : {}), ...(deliveryTag !== undefined ? { deliveryTag } : {}) });
      req.socket.destroy();
      return;
    }
    if (!dropThis) {
      const rl = faults.rateLimit;
      if (take(rl, ep)) return send(429, { message: "Too Many Requests" }, { "retry-after": String(rl!.retryAfterSeconds ?? 1) });
      if (take(faults.serverError, ep)) return send(500, { message: "Internal Server Error" });
      if ((ep === "push" || ep === "multicast" || ep === "pnp" || ep === "pnp_template") && quotaFaultOn(ep)) {
        return send(429, { message: "You have reached your monthly limit." });
      }
    }

    const ctx: Ctx = {
      req,
      body,
      query,
      requestId,
      params: match.params,
      ...(retryKey !== undefined ? { retryKey } : {}),
      ...(deliveryTag !== undefined ? { deliveryTag } : {}),
    };
    let result: Result;
    try {
      if ((ep === "push" || ep === "multicast" || ep === "pnp" || ep === "pnp_template") && (body === undefined || body === null || typeof body !== "object")) {
        throw badRequest([{ message: "Must be a JSON object", property: "" }]);
      }
      // LINE accepts X-Line-Retry-Key on push/multicast/narrowcast/broadcast only; anywhere else it is a 400.
      if (ep !== "push" && ep !== "multicast" && !PUBLIC_ENDPOINTS.has(ep)) noRetryKey(ctx);
      result = await handlers[ep](ctx);
    } catch (err) {
      if (err instanceof HttpError) return send(err.status, err.body, err.headers);
      log?.error({ err, path }, "sandbox emulator handler failed");
      return send(500, { message: "Internal Server Error" });
    }
    if (dropThis) {
      // The ambiguous timeout: accepted (and delivered) on our side, but the client never hears back.
      record({ at: clock.now().toISOString(), method, path, status: 0, body, ...(retryKey !== undefined ? { retryKey } : {}), ...(deliveryTag !== undefined ? { deliveryTag } : {}) });
      req.socket.destroy();
      return;
    }
    send(result.status, result.body, result.headers);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on("end", () => {
      if (tooBig) {
        res.writeHead(413, { "content-type": "application/json", "x-line-request-id": newRequestId() });
        res.end(JSON.stringify({ message: "Request Entity Too Large" }));
        return;
      }
      handle(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).catch((err) => {
        log?.error({ err }, "sandbox emulator failed");
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json", "x-line-request-id": newRequestId() });
          res.end(JSON.stringify({ message: "Internal Server Error" }));
        }
      });
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  const host = opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const mustUser = (userId: string) => {
    const u = users.get(userId);
    if (!u) throw new Error(`no simulated user ${userId}`);
    return u;
  };

  const emulator: StartedLineEmulator = {
    url,
    botUserId,
    async close() {
      closed = true;
      clearInterval(holdSweep);
      if (deliveryTimer) clearTimeout(deliveryTimer);
      await Promise.allSettled([...inflight]);
      if (opts.stateFile) saveNow();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    createUser(input = {}) {
      const u = toSimUser(input);
      if (users.has(u.userId)) throw new Error(`simulated user ${u.userId} already exists`);
      indexUser(u);
      users.set(u.userId, u);
      changed();
      return publicUser(u);
    },
    updateUser(userId, patch) {
      const prev = mustUser(userId);
      const u = toSimUser({ ...patch, userId }, prev);
      indexUser(u, prev);
      users.set(userId, u);
      changed();
      return publicUser(u);
    },
    getUser(userId) {
      const u = users.get(userId);
      return u ? publicUser(u) : undefined;
    },
    listUsers() {
      return [...users.values()].map(publicUser);
    },
    async follow(userId, o = {}) {
      const u = mustUser(userId);
      const isUnblocked = o.isUnblocked ?? u.blocked;
      users.set(userId, { ...u, friend: true, blocked: false });
      changed();
      await sendEvents([{ type: "follow", replyToken: randomBytes(16).toString("hex"), source: { type: "user", userId }, follow: { isUnblocked }, ...eventBase() }]);
    },
    async unfollow(userId) {
      const u = mustUser(userId);
      // On LINE an unfollow event means the user blocked the account.
      users.set(userId, { ...u, friend: false, blocked: true });
      changed();
      await sendEvents([{ type: "unfollow", source: { type: "user", userId }, ...eventBase() }]);
    },
    async sendText(userId, text) {
      const u = mustUser(userId);
      users.set(userId, { ...u, lastMessageAt: clock.now().getTime() });
      changed();
      await sendEvents([
        {
          type: "message",
          replyToken: randomBytes(16).toString("hex"),
          source: { type: "user", userId },
          message: { id: nextMessageId(), type: "text", text, quoteToken: randomBytes(24).toString("base64url") },
          ...eventBase(),
        },
      ]);
    },
    async consentNow(userId) {
      const u = mustUser(userId);
      users.set(userId, { ...u, pnpConsent: "yes" });
      settleHolds(userId);
      changed();
    },
    async verifyNow(userId) {
      const u = mustUser(userId);
      users.set(userId, { ...u, lastSmsVerifiedAt: clock.now() });
      settleHolds(userId);
      changed();
    },
    inbox(userId) {
      settleHolds(userId);
      return [...(inboxes.get(userId) ?? [])];
    },
    requests: () => [...requestLog],
    accepted: () => [...acceptedLog],
    setFaults(f) {
      faults = structuredClone(f);
    },
    clearFaults() {
      faults = {};
    },
    faults: () => structuredClone(faults),
    async flushDeliveries() {
      if (deliveryTimer) clearTimeout(deliveryTimer);
      flushDue(true);
      while (inflight.size) await Promise.allSettled([...inflight]);
    },
    async mintIdToken(userId, o = {}) {
      const u = mustUser(userId);
      const now = Math.floor(clock.now().getTime() / 1000);
      const jwt = new SignJWT({ name: u.displayName, amr: ["linesso"], ...(o.nonce ? { nonce: o.nonce } : {}) })
        .setProtectedHeader({ alg: "ES256", kid: signingKey!.kid, typ: "JWT" })
        .setIssuer("https://access.line.me")
        .setSubject(userId)
        .setAudience(o.aud ?? opts.loginChannelId)
        .setIssuedAt(now)
        .setExpirationTime(now + (o.expiresInSeconds ?? 3600));
      return jwt.sign(privateKey);
    },
    webhookLog: () => [...webhookLogEntries],
    recordSms(m) {
      const n = normalizePhone(m.to);
      const key = n.ok ? n.e164 : m.to;
      let list = sms.get(key);
      if (!list) sms.set(key, (list = []));
      list.push({ text: m.text, reference: m.reference, at: m.at.toISOString() });
      if (list.length > INBOX_LIMIT) list.splice(0, list.length - INBOX_LIMIT);
      changed();
    },
    smsInbox(phoneE164) {
      return [...(sms.get(phoneE164) ?? [])];
    },
    smsPhones() {
      return [...sms.entries()].sort((a, b) => (a[1].at(-1)!.at < b[1].at(-1)!.at ? 1 : -1)).map(([k]) => k);
    },
    setWebhookUrl(u) {
      webhookUrl = u;
    },
    webhookUrl: () => webhookUrl,
    save: saveNow,
    inFlight: () => inFlight,
  };
  return emulator;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
