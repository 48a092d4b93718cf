import { type Logger, pino } from "pino";

export type { Logger };

// Secrets and personal data must never reach a log line, whatever a handler passes in.
const redact = {
  paths: [
    "req.headers.authorization",
    'req.headers["x-line-signature"]',
    'req.headers["x-api-key"]',
    "req.headers.cookie",
    "*.phone",
    "*.phoneE164",
    "*.token",
    "*.otp",
    "*.code",
    "*.password",
    "*.secret",
  ],
  censor: "[redacted]",
};

// Error fields that carry data rather than a description: a query's bind parameters (drizzle's DrizzleQueryError
// puts them in `params` and in its message; one batch chunk is ~1 MB of notifications with their phone numbers), and
// PostgreSQL's `detail`/`where` ("Key (phone_e164)=(+886…) already exists").
const ERROR_FIELDS = ["constraint", "table", "column", "routine", "severity", "status", "type"] as const;
const MAX_MESSAGE = 500;

/** An error's message without the bind parameters drizzle appends ("Failed query: …\nparams: …"), capped. */
function safeMessage(message: string): string {
  const cut = message.replace(/\nparams: [\s\S]*$/, "");
  return cut.length > MAX_MESSAGE ? `${cut.slice(0, MAX_MESSAGE)}… (${cut.length} chars)` : cut;
}

/**
 * pino's `err` serializer, replaced: type, message (parameters stripped, capped), stack frames (never the message
 * again, which the first stack line repeats), a few descriptive fields, and the cause chain. Nothing else of the
 * error object is copied, so no future library field can carry request data into a log.
 */
export function safeError(err: unknown, depth = 0): unknown {
  if (typeof err !== "object" || err === null) return typeof err === "string" ? safeMessage(err) : err;
  // pino-http hands custom serializers pino's own serialization of the error, with the original under `raw`.
  const raw = (err as { raw?: unknown }).raw;
  const e = (typeof raw === "object" && raw !== null ? raw : err) as Error & Record<string, unknown>;
  const type = typeof e.name === "string" ? e.name : (e.constructor?.name ?? "Error");
  const message = safeMessage(typeof e.message === "string" ? e.message : String(e.message ?? ""));
  const frames =
    typeof e.stack === "string"
      ? e.stack
          .split("\n")
          .filter((l) => /^\s+at /.test(l))
          .slice(0, 15)
      : [];
  const out: Record<string, unknown> = { type, message, stack: [`${type}: ${message}`, ...frames].join("\n") };
  // `code` (SQLSTATE, ECONNRESET…) under another name: "*.code" is redacted everywhere (short-link codes).
  if (typeof e.code === "string" || typeof e.code === "number") out["errorCode"] = e.code;
  for (const k of ERROR_FIELDS) {
    const v = e[k];
    if (typeof v === "string" || typeof v === "number") out[k] = typeof v === "string" ? v.slice(0, 100) : v;
  }
  if (e.cause !== undefined && depth < 3) out["cause"] = safeError(e.cause, depth + 1);
  return out;
}

// The last line of defence, on every line written: phone numbers (E.164 of the PNP countries and Taiwan's local
// mobile forms) keep their last 3 digits (docs/architecture.md), JWTs (ID tokens, binding links, view tokens) go.
const PHONE_PATTERNS = [/\+(?:886|81|66)\d{8,10}(?!\d)/g, /(?<![\w.+-])(?:886)?0?9\d{2}[- ]?\d{3}[- ]?\d{3}(?![\w-])/g];
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;

export function scrubLine(line: string, secrets: readonly string[] = []): string {
  let s = line;
  for (const p of PHONE_PATTERNS) s = s.replace(p, (m) => `[phone …${m.replace(/\D/g, "").slice(-3)}]`);
  s = s.replace(JWT, "[jwt redacted]");
  for (const secret of secrets) if (s.includes(secret)) s = s.split(secret).join("[secret redacted]");
  return s;
}

export interface LoggerOptions {
  /** Configured secrets (API keys, channel secret and token, APP_SECRET…): removed wherever they appear. */
  secrets?: readonly (string | undefined)[];
}

export function createLogger(level = "info", destination?: NodeJS.WritableStream, opts: LoggerOptions = {}): Logger {
  // Short values would match innocent text; every real secret is long (docs/configuration.md).
  const secrets = (opts.secrets ?? []).filter((s): s is string => typeof s === "string" && s.length >= 8);
  return pino(
    {
      level,
      redact,
      base: { service: "oa-notify" },
      serializers: { err: safeError },
      hooks: { streamWrite: (s) => scrubLine(s, secrets) },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
