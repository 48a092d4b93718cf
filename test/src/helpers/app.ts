import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import { Writable } from "node:stream";
import { type App, type Config, createApp, createLineApi, createLogger, loadConfig, ManualClock } from "@oa-notify/server";
import { createLogSmsProvider } from "@oa-notify/server/lib/sms/log.ts";
import type { SmsProvider } from "@oa-notify/server/lib/sms/types.ts";
import { createTestDb, type TestDb } from "./db.ts";

export const TEST_SECRET = "test-channel-secret";
export const TEST_API_KEY = "test-api-key-0123456789";

/** Captures every log line, so tests can prove what never reaches a log (phones, tokens). */
export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.lines.push(chunk.toString());
    cb();
  }
  get text() {
    return this.lines.join("");
  }
}

export interface TestContext {
  app: App;
  db: TestDb;
  clock: ManualClock;
  config: Config;
  logs: LogCapture;
  sms: SmsProvider & { sent: { to: string; text: string; reference: string; at: Date }[] };
  close(): Promise<void>;
}

export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    SANDBOX: "1",
    PORT: "0",
    LINE_CHANNEL_SECRET: TEST_SECRET,
    LINE_CHANNEL_ACCESS_TOKEN: "test-access-token",
    LINE_API_BASE_URL: "http://127.0.0.1:9",
    API_KEYS: `${TEST_API_KEY},second-key-abcdefghijkl`,
    LOG_LEVEL: "debug",
    ...env,
  });
}

/** The manual clock tests start from (a Thursday in Taipei office hours). */
export const testClock = () => new ManualClock(Date.parse("2026-11-26T02:00:00Z"));

/** createApp with test deps: a fresh database, a manual clock, an SMS sink and captured logs. */
export async function buildTestApp(opts: { env?: Record<string, string | undefined>; db?: TestDb; clock?: ManualClock } = {}): Promise<TestContext> {
  const db = opts.db ?? (await createTestDb());
  const config = testConfig(opts.env);
  const clock = opts.clock ?? testClock();
  const logs = new LogCapture();
  const logger = createLogger("debug", logs);
  const sms = createLogSmsProvider();
  const line = createLineApi({ baseUrl: config.line.apiBaseUrl, channelAccessToken: config.line.channelAccessToken });
  const app = createApp({ db, line, sms, clock, logger, config });
  return {
    app,
    db,
    clock,
    config,
    logs,
    sms,
    close: async () => {
      await app.services.processor.drain();
      if (!opts.db) await db.close();
    },
  };
}

export function sign(body: string | Buffer, secret = TEST_SECRET): string {
  return createHmac("sha256", secret).update(body).digest("base64");
}

export const auth = (key = TEST_API_KEY) => ({ Authorization: `Bearer ${key}` });

/** Serves an app on a free loopback port (for clients that need a real URL: the emulator's webhooks, CLIs). */
export function listen(app: App): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer(app).listen(0, "127.0.0.1", () => resolve(s));
  });
}
