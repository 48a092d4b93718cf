// One side of the webhook benchmark, in its own process so the load generator never shares its event loop.
//   mode "sdk":  express + @line/bot-sdk middleware() answering 200 with no work (the baseline)
//   mode "ours": createApp() on PostgreSQL: verify, store every event durably, answer 200, process in background

import { middleware } from "@line/bot-sdk";
import express from "express";
import { benchApp, listenAndReport } from "./serve.ts";

const [mode, secret, dbUrl] = process.argv.slice(2) as [string, string, string | undefined];

async function main() {
  if (mode === "sdk") {
    const app = express();
    app.post("/webhook", middleware({ channelSecret: secret }), (_req, res) => {
      res.status(200).end();
    });
    listenAndReport(app);
  } else {
    listenAndReport(await benchApp(dbUrl, { LINE_CHANNEL_SECRET: secret }, 20));
  }
}
void main();
process.on("SIGINT", () => process.exit(0));
