// The server side of the notify ingest/RSS benchmark, in its own process so its RSS is its own:
// createApp() on PostgreSQL with the dispatcher off (ingest alone is measured here).
import { benchApp, listenAndReport } from "./serve.ts";

const [dbUrl, apiKey] = process.argv.slice(2) as [string, string];
listenAndReport(await benchApp(dbUrl, { API_KEYS: apiKey, WORKER_ENABLED: "0" }));
process.on("SIGTERM", () => process.exit(0));
