import { createServer } from "node:http";
import { createDb } from "@oa-notify/db";
import { createApp } from "./app.ts";
import { configFromProcess, configSecrets } from "./env.ts";
import { systemClock } from "./lib/clock.ts";
import { createLineApi } from "./lib/line/client.ts";
import { createLogger } from "./lib/logger.ts";
import { createSmsProvider } from "./lib/sms/index.ts";
import { createNotifyWorker } from "./notify/worker.ts";
import { WebhookDeliveryWorker } from "./outbox/delivery.ts";
import { syncWebhookEndpoints } from "./outbox/endpoints.ts";

const config = configFromProcess();
const logger = createLogger(config.logLevel, undefined, { secrets: configSecrets(config) });

async function main() {
  const database = await createDb({ url: config.databaseUrl, dataDir: config.dataDir });
  logger.info({ database: database.kind }, "database ready");
  // Before any request: the transitions' callback rows and the webhook forwards follow these endpoint rows.
  await syncWebhookEndpoints(database, config);

  // Sandbox (README.md, "Sandbox"): the LINE emulator starts first and the app's LINE client is built on its URL, so
  // push, PNP and the LIFF ID-token JWKS all reach the emulator. Loaded by import() only in sandbox mode: the
  // production bundle keeps the emulator, its console and their dependencies (ajv, yaml, ulid) in a chunk of their
  // own (server/scripts/build.mjs) that a production server never reads.
  const sandbox = config.sandbox ? await (await import("./sandbox/runtime.ts")).startSandbox({ config, db: database, logger, clock: systemClock }) : null;
  const line = createLineApi({ baseUrl: sandbox ? sandbox.emulator.url : config.line.apiBaseUrl, channelAccessToken: config.line.channelAccessToken });
  const sms = sandbox?.sms ?? createSmsProvider(config, logger);
  const app = createApp({ db: database, line, sms, clock: systemClock, logger, config, ...(sandbox ? { sandboxConsole: sandbox.console } : {}) });
  const { processor } = app.services;

  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  logger.info({ port, sandbox: config.sandbox }, "oa-notify listening");

  // Events stored before a crash but never processed are picked up now (kicked below); failed ones on a sweep.
  const sweep = setInterval(() => void processor.kick(), 5_000);
  sweep.unref();

  // Signal handlers go in as soon as we listen: a SIGTERM during the rest of start-up must still drain cleanly.
  let worker: ReturnType<typeof createNotifyWorker> | null = null;
  let deliveries: WebhookDeliveryWorker | null = null;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: no new connections, finishing in-flight work");
    clearInterval(sweep);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 10_000);
    force.unref();
    await closed;
    await processor.drain();
    await worker?.stop();
    await deliveries?.stop();
    await sandbox?.close();
    await database.close();
    logger.info("stopped");
    logger.flush();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  void processor.kick();

  // The notification dispatcher; `pnpm worker` runs more of them against the same PostgreSQL.
  worker = config.workerEnabled ? createNotifyWorker({ db: database, line, sms, clock: systemClock, logger, config, metrics: app.services.metrics }) : null;
  // The webhook outbox's delivery loop (status callbacks, LINE webhook forwards) runs beside it.
  deliveries = config.workerEnabled ? new WebhookDeliveryWorker({ db: database, clock: systemClock, logger, config, metrics: app.services.metrics }) : null;
  if (!stopping) worker?.start();
  if (!stopping) deliveries?.start();

  if (sandbox) {
    sandbox.attach(port);
    // In the background, after the signal handlers: seeding is slow and must not delay a clean shutdown.
    void (async () => {
      const { seedSandbox, sandboxBanner } = await import("./sandbox/runtime.ts"); // loaded above: no second read
      const demo = sandbox.firstStart
        ? await seedSandbox({ baseUrl: `http://127.0.0.1:${port}`, apiKey: config.apiKeys[0]!, emulator: sandbox.emulator, logger }).catch((err: Error) => {
            logger.warn({ err: err.message }, "sandbox demo data not seeded");
            return null;
          })
        : null;
      process.stdout.write(sandboxBanner({ port, config, emulatorUrl: sandbox.emulator.url, demo }));
    })();
  }
}

main().catch((err) => {
  logger.fatal({ err }, "start-up failed");
  logger.flush();
  process.exit(1);
});
