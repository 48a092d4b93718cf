// The server side of bench/slow-client.ts, in its own process: createApp() on PGlite (no URL) or PostgreSQL.
import { benchApp, listenAndReport } from "./serve.ts";

const [secret, apiKey, dbUrl] = process.argv.slice(2) as [string, string, string | undefined];
listenAndReport(await benchApp(dbUrl || undefined, { LINE_CHANNEL_SECRET: secret, API_KEYS: apiKey }, 10));
