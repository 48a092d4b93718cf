// One side of the webhook benchmark, in its own process so the load generator never shares its event loop.
//   mode "sdk":  express + @line/bot-sdk middleware() answering 200 with no work (the baseline)
//   mode "ours": createApp() on PostgreSQL: verify, store every event durably, answer 200, process in background
import express from "express";
import { middleware } from "@line/bot-sdk";
import { createDb } from "@oa-notify/db";
import { createApp, loadConfig, createLineApi, createLogger, systemClock } from "@oa-notify/server";
import { createLogSmsProvider } from "@oa-notify/server/sms/log.ts";

const [mode, secret, dbUrl] = process.argv.slice(2) as [string, string, string | undefined];

async function main() {
  let app: express.Express;
  if (mode === "sdk") {
    app = express();
    app.post("/webhook", middleware({ channelSecret: secret }), (_req, res) => {
      res.status(200).end();
    });
  } else {
    const db = await createDb({ url: dbUrl, poolSize: 20 });
    const config = loadConfig({ SANDBOX: "1", LINE_CHANNEL_SECRET: secret, LOG_LEVEL: "warn", PORT: "0" });
    app = createApp({
      db,
      line: createLineApi({ baseUrl: "http://127.0.0.1:9", channelAccessToken: "x" }),
      sms: createLogSmsProvider(),
      clock: systemClock,
      logger: createLogger("warn"),
      config,
    });
  }
  const server = app.listen(0, "127.0.0.1", () => {
    const a = server.address();
    process.send?.({ port: typeof a === "object" && a ? a.port : 0 });
  });
  server.keepAliveTimeout = 60_000;
}
void main();
process.on("SIGINT", () => process.exit(0));
