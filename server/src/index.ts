export { createApp, type App } from "./app.ts";
export type { AppDeps } from "./deps.ts";
export { loadConfig, configSecrets, type Config } from "./env.ts";
export { ManualClock, systemClock, type Clock } from "./lib/clock.ts";
export { createLogger, scrubLine } from "./lib/logger.ts";
export { createLineApi, type LineApi } from "./lib/line/client.ts";
