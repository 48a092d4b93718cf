// The server side of the notify ingest/RSS benchmark, in its own process so its RSS is its own:
// createApp() on PostgreSQL with the dispatcher off (ingest alone is measured here).
import { createDb } from "@oa-notify/db";
import { createApp, loadConfig, createLineApi, createLogger, systemClock } from "@oa-notify/server";
import { createLogSmsProvider } from "@oa-notify/server/sms/log.ts";

const [dbUrl, apiKey] = process.argv.slice(2) as [string, string];
const db = await createDb({ url: dbUrl, poolSize: 10 });
const config = loadConfig({ SANDBOX: "1", API_KEYS: apiKey, LOG_LEVEL: "warn", PORT: "0", WORKER_ENABLED: "0" });
const app = createApp({
  db,
  line: createLineApi({ baseUrl: "http://127.0.0.1:1", channelAccessToken: "x" }),
  sms: createLogSmsProvider(),
  clock: systemClock,
  logger: createLogger("warn"),
  config,
});
const server = app.listen(0, "127.0.0.1", () => {
  const a = server.address();
  process.send?.({ port: typeof a === "object" && a ? a.port : 0 });
});
server.keepAliveTimeout = 60_000;
process.on("SIGTERM", () => process.exit(0));
