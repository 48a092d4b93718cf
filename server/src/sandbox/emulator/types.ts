import type { Clock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/logger.ts";

/** The LINE emulator's public types: what tests, the console and the sandbox runtime see of it. */

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
/** Accepted API requests per endpoint: per calendar second, and the most in any sliding 1-second window. */
export interface EndpointRates {
  /** requests accepted in each whole second (UTC, ISO second → count), in time order */
  perSecond: [string, number][];
  /** the most requests accepted within any 1,000 ms window */
  peakWindow: number;
  requests: number;
  /** the first and last accepted request (ms since the epoch; 0 when none) */
  firstAt: number;
  lastAt: number;
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
  /** accepted requests per endpoint per second, and the peak of any 1 s window (rates.ts) */
  acceptedRates(): Record<AcceptedRecord["kind"], EndpointRates>;
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
