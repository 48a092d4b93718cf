import { z } from "zod";

// Empty strings count as unset: `FOO=` in a .env or a compose file must not become a value.
const str = () => z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), z.string().optional());
const num = (def: number) => z.preprocess((v) => (v === undefined || v === "" ? def : Number(v)), z.number().finite());
const int = (def: number) => z.preprocess((v) => (v === undefined || v === "" ? def : Number(v)), z.number().int());
const bool = () =>
  z.preprocess((v) => (v === undefined || v === "" ? undefined : ["1", "true", "yes", "on"].includes(String(v).toLowerCase())), z.boolean().optional());

const schema = z.object({
  NODE_ENV: str(),
  PORT: int(3000).pipe(z.number().min(0).max(65535)),
  HOST: str(),
  DATABASE_URL: str(),
  DATA_DIR: str(),
  LINE_CHANNEL_SECRET: str(),
  LINE_CHANNEL_ACCESS_TOKEN: str(),
  LINE_API_BASE_URL: str().pipe(z.url().optional()),
  LINE_LOGIN_CHANNEL_ID: str(),
  LIFF_ID: str(),
  LINE_OA_BASIC_ID: str(), // "@123abcde": the add-friend link is https://line.me/R/ti/p/@123abcde
  API_KEYS: str(),
  API_KEYS_READONLY: str(), // comma list: keys that may only read (GET/HEAD) under /api/v1
  PUBLIC_BASE_URL: str().pipe(z.url().optional()),
  APP_SECRET: str(), // signs binding links and view tokens
  SMS_PROVIDER: str().pipe(z.enum(["http", "mitake", "log"]).optional()),
  SMS_HTTP_URL: str().pipe(z.url().optional()),
  SMS_HTTP_SECRET: str(),
  MITAKE_URL: str().pipe(z.url().optional()),
  MITAKE_USERNAME: str(),
  MITAKE_PASSWORD: str(),
  PRICE_PNP_TWD: num(0.2),
  PRICE_SMS_TWD: num(1.0),
  PRICE_PUSH_TWD: num(0),
  SANDBOX: bool(),
  SANDBOX_LINE_PORT: int(0),
  LINE_SEND_RATE: num(1000), // requests/s per LINE endpoint; LINE allows 2,000
  PUBLIC_RATE_LIMIT_PER_MINUTE: int(600), // per client IP on /liff-api and /n (Taiwan mobile carriers NAT many users per IP)
  WORKER_CONCURRENCY: int(400), // sends in flight: LINE_SEND_RATE × one send's end-to-end time (Little's law)
  WORKER_ENABLED: bool(),
  LOG_LEVEL: str().pipe(z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional()),
  // Which hops may set X-Forwarded-For (express's `trust proxy`): docs/configuration.md, docs/threat-model.md.
  TRUST_PROXY: str().pipe(
    z
      .string()
      .regex(
        /^(?:true|false|\d{1,2}|(?:loopback|linklocal|uniquelocal|[0-9A-Fa-f:.]+(?:\/\d{1,3})?)(?:\s*,\s*(?:loopback|linklocal|uniquelocal|[0-9A-Fa-f:.]+(?:\/\d{1,3})?))*)$/,
        "true, false, a hop count, or a comma-separated list of loopback/linklocal/uniquelocal/IP/CIDR",
      )
      .optional(),
  ),
  METRICS_TOKEN: str().pipe(z.string().min(16, "at least 16 characters").optional()), // bearer token for GET /metrics
  // Opt-in at-least-once PNP: an ambiguous PNP with no delivery event this long after its call is called once more.
  PNP_RESEND_AFTER_SECONDS: int(0).pipe(
    z
      .number()
      .min(0)
      .max(23 * 3600),
  ),
  // Status callbacks (docs/api.md, "Status callbacks") and LINE webhook forwarding (docs/notifier.md).
  STATUS_WEBHOOK_URL: str().pipe(z.url({ protocol: /^https?$/ }).optional()),
  STATUS_WEBHOOK_SECRET: str().pipe(
    z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, "whsec_ followed by a base64 key of at least 24 bytes (Standard Webhooks)")
      .optional(),
  ),
  WEBHOOK_FORWARD_URLS: str(),
  WEBHOOK_RETRY_BASE_SECONDS: num(5).pipe(z.number().min(0.01).max(3600)),
  // The promotion guard's word list (docs/routing.md), comma-separated; replaces the default list.
  PROMO_WORDS: str(),
  SMS_MAX_PARTS: int(3).pipe(z.number().min(1).max(10)), // longest SMS in billed parts; longer text is shortened
  // Quiet hours for a fallback SMS (Asia/Taipei, HH:MM-HH:MM; "off" disables them).
  SMS_QUIET_HOURS: str().pipe(
    z
      .string()
      .regex(/^(?:off|(?:[01]\d|2[0-3]):[0-5]\d-(?:[01]\d|2[0-3]):[0-5]\d)$/, "HH:MM-HH:MM (Asia/Taipei) or off")
      .optional(),
  ),
  RETENTION_DAYS: int(400).pipe(z.number().min(1).max(36500)), // phone numbers and content of older notifications are purged
});

/** Words that make content promotional (docs/routing.md, "Promotion guard"); PROMO_WORDS replaces them. */
export const DEFAULT_PROMO_WORDS = [
  "優惠",
  "折扣",
  "促銷",
  "限時",
  "立即購買",
  "贈點",
  "特價",
  "特賣",
  "折價券",
  "優惠券",
  "買一送一",
  "coupon",
  "sale",
  "discount",
  "promo",
  "promotion",
  "buy now",
  "limited time",
  "% off",
] as const;

export interface Config {
  port: number;
  host: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
  sandbox: boolean;
  sandboxLinePort: number;
  line: {
    channelSecret: string;
    channelAccessToken: string;
    apiBaseUrl: string;
    loginChannelId: string;
    liffId: string;
    oaBasicId: string | undefined;
  };
  apiKeys: string[];
  /** API_KEYS_READONLY: keys whose scope is "read" (GET/HEAD only) */
  apiKeysReadonly: string[];
  publicBaseUrl: string;
  appSecret: string;
  sms: {
    provider: "http" | "mitake" | "log";
    httpUrl: string | undefined;
    httpSecret: string | undefined;
    mitakeUrl: string;
    mitakeUsername: string | undefined;
    mitakePassword: string | undefined;
  };
  prices: { pnp: number; sms: number; push: number };
  sendRatePerSecond: number;
  workerConcurrency: number;
  publicRateLimitPerMinute: number;
  workerEnabled: boolean;
  logLevel: string;
  /** express `trust proxy`: which peers' X-Forwarded-For decides the client IP (rate limits, logs). */
  trustProxy: boolean | number | string;
  /** GET /metrics needs `Authorization: Bearer <token>`; unset: open in sandbox mode, 404 otherwise. */
  metricsToken: string | undefined;
  /** At-least-once PNP (docs/states.md): seconds after an ambiguous call to call once more; 0 = never (at most once). */
  pnpResendAfterSeconds: number;
  /** Outgoing webhooks: the status callback (with its whsec_ secret) and the LINE webhook forwards. */
  webhooks: { statusUrl: string | undefined; statusSecret: string | undefined; forwardUrls: string[]; retryBaseSeconds: number };
  /** Promotion guard word list (lower-cased). */
  promoWords: string[];
  /** Longest SMS, in billed parts (a longer text is shortened, its short link kept). */
  smsMaxParts: number;
  /** Fallback SMS quiet window in Asia/Taipei minutes after midnight; null = none. */
  smsQuietHours: { startMinute: number; endMinute: number } | null;
  /** Notifications older than this lose their phone numbers and content (states and costs stay). */
  retentionDays: number;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Freezes a value and everything reachable from it. The config is read once at start-up and shared by every part of
 * the app; a part that wrote into it (the sandbox once pointed `line.apiBaseUrl` at its emulator) would change what
 * the others see behind their back. Frozen, such a write throws a TypeError (ES modules are strict mode).
 */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Parses an environment into a Config; throws ConfigError listing every bad or missing field. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  // Sandbox when asked (SANDBOX=1), or by itself when there is no access token to reach the real LINE with — but
  // only on a developer's machine. Next to a configured DATABASE_URL or with NODE_ENV=production a forgotten token
  // would otherwise start the emulator and its unauthenticated console (API key, channel secret, every SMS with its
  // OTP code, ID tokens for anyone) against what may be the production database; there it is a config error instead.
  const mayGuessSandbox = !e.DATABASE_URL && e.NODE_ENV !== "production";
  const sandbox = e.SANDBOX ?? (!e.LINE_CHANNEL_ACCESS_TOKEN && mayGuessSandbox);
  const port = e.PORT;
  const sandboxLinePort = e.SANDBOX_LINE_PORT || (port === 0 ? 0 : port + 1);
  const issues: string[] = [];
  const need = (name: string, value: string | undefined, sandboxDefault: string): string => {
    if (value) return value;
    if (sandbox) return sandboxDefault;
    issues.push(`${name}: required outside sandbox mode`);
    return "";
  };
  const channelSecret = need("LINE_CHANNEL_SECRET", e.LINE_CHANNEL_SECRET, "sandbox-secret");
  const channelAccessToken = e.LINE_CHANNEL_ACCESS_TOKEN ?? (sandbox ? "sandbox-token" : "");
  if (!channelAccessToken) {
    // Not in sandbox mode and no token: either SANDBOX=0, or the sandbox declined to guess (see mayGuessSandbox).
    issues.push(
      e.SANDBOX === false
        ? "LINE_CHANNEL_ACCESS_TOKEN: required outside sandbox mode"
        : `LINE_CHANNEL_ACCESS_TOKEN: required (${e.DATABASE_URL ? "DATABASE_URL is set" : "NODE_ENV=production"}, so the sandbox does not turn on by itself); set it, or set SANDBOX=1 to run against the built-in LINE emulator on purpose`,
    );
  }
  const apiKeys = need("API_KEYS", e.API_KEYS, "sandbox-key")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  // Read-only keys (docs/configuration.md): GET/HEAD under /api/v1 only; a key in both lists is read-only.
  const apiKeysReadonly = (e.API_KEYS_READONLY ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const appSecret = need("APP_SECRET", e.APP_SECRET, "sandbox-app-secret-change-me-0123456789");
  if (appSecret && appSecret.length < 32 && !sandbox) issues.push("APP_SECRET: must be at least 32 characters");
  const loginChannelId = need("LINE_LOGIN_CHANNEL_ID", e.LINE_LOGIN_CHANNEL_ID, "1234567890");
  const liffId = need("LIFF_ID", e.LIFF_ID, "1234567890-sandbox");
  const smsProvider = e.SMS_PROVIDER ?? (sandbox ? "log" : undefined);
  if (!smsProvider) issues.push("SMS_PROVIDER: required outside sandbox mode (http, mitake or log)");
  if (smsProvider === "http") {
    if (!e.SMS_HTTP_URL) issues.push("SMS_HTTP_URL: required when SMS_PROVIDER=http");
    if (!e.SMS_HTTP_SECRET) issues.push("SMS_HTTP_SECRET: required when SMS_PROVIDER=http");
  }
  if (smsProvider === "mitake" && (!e.MITAKE_USERNAME || !e.MITAKE_PASSWORD)) {
    issues.push("MITAKE_USERNAME, MITAKE_PASSWORD: required when SMS_PROVIDER=mitake");
  }
  if (e.STATUS_WEBHOOK_URL && !e.STATUS_WEBHOOK_SECRET) issues.push("STATUS_WEBHOOK_SECRET: required when STATUS_WEBHOOK_URL is set");
  const forwardUrls = (e.WEBHOOK_FORWARD_URLS ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of forwardUrls) if (!z.url({ protocol: /^https?$/ }).safeParse(u).success) issues.push(`WEBHOOK_FORWARD_URLS: not an http(s) URL: ${u}`);
  if (issues.length) throw new ConfigError(issues);
  return deepFreeze({
    port,
    // The sandbox's console is unauthenticated (it shows the API key and secret and mints ID tokens), so by default
    // it is reachable from this machine only; HOST=0.0.0.0 opens it up on purpose (e.g. inside a container).
    host: e.HOST ?? (sandbox ? "127.0.0.1" : undefined),
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR ?? ".data",
    sandbox,
    sandboxLinePort,
    line: {
      channelSecret,
      channelAccessToken,
      // In sandbox mode the server's own LINE client is given the emulator's actual address (main.ts); this default
      // is where a separate `pnpm worker` finds that emulator (SANDBOX_LINE_PORT on this machine).
      apiBaseUrl: e.LINE_API_BASE_URL ?? (sandbox ? `http://127.0.0.1:${sandboxLinePort}` : "https://api.line.me"),
      loginChannelId,
      liffId,
      oaBasicId: e.LINE_OA_BASIC_ID ?? (sandbox ? "@sandbox-oa" : undefined),
    },
    apiKeys,
    apiKeysReadonly,
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/$/, ""),
    appSecret,
    sms: {
      provider: smsProvider ?? "log",
      httpUrl: e.SMS_HTTP_URL,
      httpSecret: e.SMS_HTTP_SECRET,
      mitakeUrl: e.MITAKE_URL ?? "https://smsapi.mitake.com.tw/api/mtk/SmSend",
      mitakeUsername: e.MITAKE_USERNAME,
      mitakePassword: e.MITAKE_PASSWORD,
    },
    prices: { pnp: e.PRICE_PNP_TWD, sms: e.PRICE_SMS_TWD, push: e.PRICE_PUSH_TWD },
    sendRatePerSecond: e.LINE_SEND_RATE,
    workerConcurrency: e.WORKER_CONCURRENCY,
    publicRateLimitPerMinute: e.PUBLIC_RATE_LIMIT_PER_MINUTE,
    workerEnabled: e.WORKER_ENABLED ?? true,
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === "test" ? "silent" : "info"),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    metricsToken: e.METRICS_TOKEN,
    pnpResendAfterSeconds: e.PNP_RESEND_AFTER_SECONDS,
    webhooks: {
      statusUrl: e.STATUS_WEBHOOK_URL,
      statusSecret: e.STATUS_WEBHOOK_SECRET,
      forwardUrls: [...new Set(forwardUrls)],
      retryBaseSeconds: e.WEBHOOK_RETRY_BASE_SECONDS,
    },
    promoWords: (e.PROMO_WORDS?.split(",") ?? [...DEFAULT_PROMO_WORDS]).map((w) => w.trim().toLowerCase()).filter(Boolean),
    smsMaxParts: e.SMS_MAX_PARTS,
    smsQuietHours: parseQuietHours(e.SMS_QUIET_HOURS ?? "21:30-08:00"),
    retentionDays: e.RETENTION_DAYS,
  });
}

function parseQuietHours(v: string): Config["smsQuietHours"] {
  if (v === "off") return null;
  const [a, b] = v.split("-").map((t) => {
    const [h, m] = t.split(":").map(Number);
    return h! * 60 + m!;
  });
  return a === b ? null : { startMinute: a!, endMinute: b! };
}

/** TRUST_PROXY as express takes it; unset = loopback only (a proxy on the same host), as before it was configurable. */
function parseTrustProxy(v: string | undefined): boolean | number | string {
  if (v === undefined) return "loopback";
  if (v === "true") return true;
  if (v === "false") return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v
    .split(",")
    .map((x) => x.trim())
    .join(",");
}

/** Every configured secret, so the logger can remove them wherever they would appear (lib/logger.ts). */
export function configSecrets(c: Config): string[] {
  return [
    ...c.apiKeys,
    ...c.apiKeysReadonly,
    c.line.channelSecret,
    c.line.channelAccessToken,
    c.appSecret,
    c.sms.httpSecret,
    c.sms.mitakePassword,
    c.metricsToken,
    c.webhooks.statusSecret,
  ].filter((s): s is string => typeof s === "string" && s.length > 0);
}

/** The process's environment, parsed once. The only reader of process.env; exits with the field errors. */
export function configFromProcess(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`oa-notify: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
