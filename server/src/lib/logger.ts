import { pino, type Logger } from "pino";

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

export function createLogger(level = "info", destination?: NodeJS.WritableStream): Logger {
  return pino({ level, redact, base: { service: "oa-notify" } }, destination ?? pino.destination({ sync: false }));
}
