import type { Database } from "@oa-notify/db";
import type { RequestHandler } from "express";
import type { Config } from "./env.ts";
import type { Clock } from "./lib/clock.ts";
import type { LineApi } from "./lib/line/client.ts";
import type { Logger } from "./lib/logger.ts";
import type { Metrics } from "./lib/metrics.ts";
import type { SmsProvider } from "./lib/sms/types.ts";

/**
 * What the app is built from (createApp in app.ts). Its own module so that every feature can name it without
 * importing app.ts, which imports every feature.
 */
export interface AppDeps {
  db: Database;
  line: LineApi;
  sms: SmsProvider;
  clock: Clock;
  logger: Logger;
  /** Read-only after start: nothing writes into it (the sandbox passes its emulator's URL in `line` instead). */
  readonly config: Config;
  metrics?: Metrics;
  /** sandbox mode only: the console at /sandbox and its JSON API */
  sandboxConsole?: RequestHandler;
}
