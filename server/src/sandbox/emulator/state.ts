import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { JWK } from "jose";
import type { Clock } from "../../lib/clock.ts";
import { isLineUserId } from "../../lib/ids.ts";
import type { Logger } from "../../lib/logger.ts";
import { normalizePhone, phoneHash } from "../../lib/phone.ts";
import type { AcceptedRecord, InboxItem, RequestRecord, SimUser, SimUserInput, SmsRecord, WebhookLogEntry } from "./types.ts";

/**
 * Everything the emulator knows: the simulated LINE users and their inboxes, held PNPs, the SMS inbox, counters,
 * the retry-key cache, delivery webhooks not yet sent, the ID-token signing key, and the logs the console shows.
 * The LINE API areas (messaging.ts, pnp.ts, …) work on it; this module persists it to the state file
 * (DATA_DIR/sandbox-line.json in `pnpm start`), so users, inboxes and keys survive a restart (README.md, "Sandbox").
 */

export const DAY = 24 * 60 * 60 * 1000;
/** LINE remembers an X-Line-Retry-Key for 24 h (https://developers.line.biz/en/docs/messaging-api/retrying-api-request/) */
export const RETRY_KEY_MS = DAY;
const INBOX_LIMIT = 500;
const WEBHOOK_LOG_LIMIT = 500;

/** yyyyMMdd in UTC+9: LINE's statistics day. */
export function lineStatsDay(at: Date): string {
  return new Date(at.getTime() + 9 * 3600_000).toISOString().slice(0, 10).replace(/-/g, "");
}

/** A simulated user as stored: `lastMessageAt` (the user's last message to the OA) is not part of the public view. */
export type StoredUser = SimUser & { lastMessageAt?: number };
export interface Held {
  userId: string;
  item: InboxItem;
  data: string;
  heldAt: number;
}
export interface PendingDelivery {
  event: Record<string, unknown>;
  dueAt: number;
}
export interface RetryKeyHit {
  requestId: string;
  sentMessages: unknown[];
  at: number;
}
export interface SigningKey {
  kid: string;
  privateJwk: JWK;
}
interface PersistedState {
  version: 1;
  users: (Omit<SimUser, "lastSmsVerifiedAt"> & { lastSmsVerifiedAt: string | null; lastMessageAt?: number })[];
  inboxes: Record<string, InboxItem[]>;
  held: Held[];
  sms: Record<string, SmsRecord[]>;
  webhookLog: WebhookLogEntry[];
  counts: Record<string, number>;
  signingKey?: SigningKey;
  /** a restart must not turn a retried push into a second message, nor lose a delivery webhook not yet sent */
  retryKeys?: [string, RetryKeyHit][];
  pendingDeliveries?: Record<string, unknown>[];
}

export class EmulatorState {
  readonly users = new Map<string, StoredUser>();
  /** phone hash → userId: how PNP finds its recipient */
  readonly byHash = new Map<string, string>();
  readonly inboxes = new Map<string, InboxItem[]>();
  /** PNPs waiting for consent or SMS verification (pnp.ts) */
  held: Held[] = [];
  readonly sms = new Map<string, SmsRecord[]>();
  webhookLog: WebhookLogEntry[] = [];
  /** "pnp:20261126", "pnp_template:…", "push:…" (delivered, per UTC+9 day), "push_month:202611" (sent) */
  readonly counts = new Map<string, number>();
  readonly retryKeys = new Map<string, RetryKeyHit>();
  readonly requestLog: RequestRecord[] = [];
  readonly acceptedLog: AcceptedRecord[] = [];
  /** delivery webhooks waiting for their due time, oldest first (webhooks-out.ts) */
  pending: PendingDelivery[] = [];
  /** delivery events restored from the state file; webhooks-out.ts queues them again */
  readonly restoredDeliveries: Record<string, unknown>[] = [];
  /** the ID-token signing key (liff.ts makes one when the state file has none) */
  signingKey: SigningKey | undefined;
  private msgSeq = 461230966842064897n + BigInt(Date.now() % 1_000_000) * 1000n;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly clock: Clock,
    private readonly stateFile: string | undefined,
    private readonly log: Logger | undefined,
    private readonly requestLogLimit = Infinity,
  ) {
    if (stateFile) this.load(stateFile);
  }

  private load(file: string) {
    let persisted: PersistedState | undefined;
    try {
      persisted = JSON.parse(readFileSync(file, "utf8")) as PersistedState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.log?.warn({ err, file }, "sandbox state unreadable; starting empty");
    }
    if (persisted?.version !== 1) return;
    for (const u of persisted.users) {
      this.users.set(u.userId, { ...u, lastSmsVerifiedAt: u.lastSmsVerifiedAt ? new Date(u.lastSmsVerifiedAt) : null });
      if (u.phoneHash) this.byHash.set(u.phoneHash, u.userId);
    }
    for (const [k, v] of Object.entries(persisted.inboxes ?? {})) this.inboxes.set(k, v);
    this.held = persisted.held ?? [];
    // Held entries must point at the inbox objects, so releasing one updates the inbox the console shows.
    for (const h of this.held) {
      const match = this.inboxes.get(h.userId)?.find((i) => i.requestId === h.item.requestId);
      if (match) h.item = match;
    }
    for (const [k, v] of Object.entries(persisted.sms ?? {})) this.sms.set(k, v);
    this.webhookLog = persisted.webhookLog ?? [];
    for (const [k, v] of Object.entries(persisted.counts ?? {})) this.counts.set(k, v);
    this.signingKey = persisted.signingKey;
    for (const [k, v] of persisted.retryKeys ?? []) this.retryKeys.set(k, v);
    this.restoredDeliveries.push(...(persisted.pendingDeliveries ?? []));
  }

  /** Writes the state file now (atomically: a crash mid-write leaves the previous one). */
  save = () => {
    if (!this.stateFile) return;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const now = this.clock.now().getTime();
    const state: PersistedState = {
      version: 1,
      users: [...this.users.values()].map((u) => ({ ...u, lastSmsVerifiedAt: u.lastSmsVerifiedAt?.toISOString() ?? null })),
      inboxes: Object.fromEntries(this.inboxes),
      held: this.held,
      sms: Object.fromEntries(this.sms),
      webhookLog: this.webhookLog.slice(-200),
      counts: Object.fromEntries(this.counts),
      ...(this.signingKey ? { signingKey: this.signingKey } : {}),
      retryKeys: [...this.retryKeys].filter(([, v]) => now - v.at <= RETRY_KEY_MS).slice(-20_000),
      pendingDeliveries: this.pending.map((p) => p.event),
    };
    mkdirSync(dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.stateFile);
  };

  /** Something changed: saved within 300 ms, once however many changes come in meanwhile (a benchmark's pushes). */
  changed() {
    if (!this.stateFile || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      try {
        this.save();
      } catch (err) {
        this.log?.warn({ err }, "sandbox state not saved");
      }
    }, 300);
    this.saveTimer.unref();
  }

  // ---- simulated users ----

  mustUser(userId: string): StoredUser {
    const u = this.users.get(userId);
    if (!u) throw new Error(`no simulated user ${userId}`);
    return u;
  }

  createUser(input: SimUserInput): SimUser {
    const u = this.toSimUser(input);
    if (this.users.has(u.userId)) throw new Error(`simulated user ${u.userId} already exists`);
    this.indexUser(u);
    this.users.set(u.userId, u);
    this.changed();
    return publicUser(u);
  }

  updateUser(userId: string, patch: Partial<SimUserInput>): SimUser {
    const prev = this.mustUser(userId);
    const u = this.toSimUser({ ...patch, userId }, prev);
    this.indexUser(u, prev);
    this.users.set(userId, u);
    this.changed();
    return publicUser(u);
  }

  /** Replaces fields of a user that the emulator itself changes (follow, block, consent, …). */
  patchUser(userId: string, fields: Partial<StoredUser>): StoredUser {
    const u = { ...this.mustUser(userId), ...fields };
    this.users.set(userId, u);
    this.changed();
    return u;
  }

  private toSimUser(input: SimUserInput, base?: StoredUser): StoredUser {
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
      lastSmsVerifiedAt: input.lastSmsVerifiedAt !== undefined ? input.lastSmsVerifiedAt : (base?.lastSmsVerifiedAt ?? this.clock.now()),
      displayName: input.displayName ?? base?.displayName ?? `Sim ${userId.slice(1, 7)}`,
    };
  }

  private indexUser(u: SimUser, prev?: SimUser) {
    if (prev?.phoneHash && this.byHash.get(prev.phoneHash) === prev.userId) this.byHash.delete(prev.phoneHash);
    if (u.phoneHash) {
      const other = this.byHash.get(u.phoneHash);
      if (other && other !== u.userId) throw new Error("phone: another simulated user already has this number");
      this.byHash.set(u.phoneHash, u.userId);
    }
  }

  // ---- inboxes, counters, logs ----

  pushInbox(userId: string, item: InboxItem) {
    let list = this.inboxes.get(userId);
    if (!list) this.inboxes.set(userId, (list = []));
    list.push(item);
    if (list.length > INBOX_LIMIT) list.splice(0, list.length - INBOX_LIMIT);
  }

  bump(key: string, n = 1) {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** Message ids look like LINE's: 18-digit decimal strings, increasing. */
  nextMessageId(): string {
    return (this.msgSeq += 1n).toString();
  }

  /** yyyyMM of LINE's (UTC+9) month: the monthly push quota's period */
  monthKey(): string {
    return lineStatsDay(this.clock.now()).slice(0, 6);
  }

  recordRequest(r: RequestRecord) {
    const log = this.requestLog;
    log.push(r);
    // Trimmed in chunks: a splice per request would move the whole log on every request of a benchmark.
    const limit = this.requestLogLimit;
    if (log.length > limit + Math.max(1, limit >> 2)) log.splice(0, log.length - limit);
  }

  logWebhook(entry: WebhookLogEntry) {
    this.webhookLog.push(entry);
    if (this.webhookLog.length > WEBHOOK_LOG_LIMIT) this.webhookLog.splice(0, this.webhookLog.length - WEBHOOK_LOG_LIMIT);
    this.changed();
  }

  // ---- the SMS inbox (SMS_PROVIDER=log in sandbox mode records here) ----

  recordSms(m: { to: string; text: string; reference: string; at: Date }) {
    const n = normalizePhone(m.to);
    const key = n.ok ? n.e164 : m.to;
    let list = this.sms.get(key);
    if (!list) this.sms.set(key, (list = []));
    list.push({ text: m.text, reference: m.reference, at: m.at.toISOString() });
    if (list.length > INBOX_LIMIT) list.splice(0, list.length - INBOX_LIMIT);
    this.changed();
  }

  /** every phone that received an SMS, most recent first */
  smsPhones(): string[] {
    return [...this.sms.entries()].sort((a, b) => (a[1].at(-1)!.at < b[1].at(-1)!.at ? 1 : -1)).map(([k]) => k);
  }
}

export function publicUser(u: StoredUser): SimUser {
  const { lastMessageAt: _m, ...rest } = u;
  return { ...rest };
}
