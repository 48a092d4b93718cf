// What the benchmark servers share: our createApp() on PostgreSQL with production-like deps (no LINE calls, the log
// SMS sink, warn-level logs), listening on a free loopback port that is reported to the parent process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createDb } from "@oa-notify/db";
import { type App, createApp, createLineApi, createLogger, loadConfig, systemClock } from "@oa-notify/server";
import { createLogSmsProvider } from "@oa-notify/server/lib/sms/log.ts";

export async function benchApp(dbUrl: string | undefined, env: Record<string, string>, poolSize = 10): Promise<App> {
  const db = await createDb({ url: dbUrl, poolSize });
  return createApp({
    db,
    line: createLineApi({ baseUrl: "http://127.0.0.1:9", channelAccessToken: "x" }),
    sms: createLogSmsProvider(),
    clock: systemClock,
    logger: createLogger("warn"),
    config: loadConfig({ SANDBOX: "1", LOG_LEVEL: "warn", PORT: "0", ...env }),
  });
}

/** Listens on 127.0.0.1:0 and tells the parent (fork IPC) which port it got. */
export function listenAndReport(app: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const server = createServer(app).listen(0, "127.0.0.1", () => {
    const a = server.address();
    process.send?.({ port: typeof a === "object" && a ? a.port : 0 });
  });
  server.keepAliveTimeout = 60_000;
  return server;
}
