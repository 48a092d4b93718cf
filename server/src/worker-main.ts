import { createDb } from "@oa-notify/db";
import { configFromProcess, configSecrets } from "./env.ts";
import { systemClock } from "./lib/clock.ts";
import { createLineApi } from "./lib/line/client.ts";
import { createLogger } from "./lib/logger.ts";
import { createSmsProvider } from "./lib/sms/index.ts";
import { createNotifyWorker } from "./notify/worker.ts";
import { WebhookDeliveryWorker } from "./outbox/delivery.ts";
import { syncWebhookEndpoints } from "./outbox/endpoints.ts";

/**
 * `pnpm worker`: a dispatcher without the HTTP server, for more send capacity on other machines. Rows are claimed
 * with FOR UPDATE SKIP LOCKED, so any number of these share one PostgreSQL with the servers' own workers.
 */
const config = configFromProcess();
const logger = createLogger(config.logLevel, undefined, { secrets: configSecrets(config) });

async function main() {
  // The embedded PGlite belongs to the one process that opened it: a second process on the same DATA_DIR would
  // corrupt it. Extra workers only make sense against a shared PostgreSQL (the server runs its own worker anyway).
  if (!config.databaseUrl) {
    process.stderr.write(
      "pnpm worker needs DATABASE_URL (a PostgreSQL shared with the servers); with the embedded database the server's own worker does the sending\n",
    );
    process.exit(1);
  }
  const database = await createDb({ url: config.databaseUrl, dataDir: config.dataDir });
  const line = createLineApi({ baseUrl: config.line.apiBaseUrl, channelAccessToken: config.line.channelAccessToken });
  const sms = createSmsProvider(config, logger);
  await syncWebhookEndpoints(database, config);
  const worker = createNotifyWorker({ db: database, line, sms, clock: systemClock, logger, config });
  const deliveries = new WebhookDeliveryWorker({ db: database, clock: systemClock, logger, config });
  worker.start();
  deliveries.start();
  logger.info({ rate: config.sendRatePerSecond, concurrency: config.workerConcurrency, database: database.kind }, "notify worker running");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "notify worker: finishing in-flight sends");
    await worker.stop();
    await deliveries.stop();
    await database.close();
    logger.info({ sent: worker.counts }, "notify worker stopped");
    logger.flush();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  logger.fatal({ err }, "notify worker start-up failed");
  logger.flush();
  process.exit(1);
});
