export { type App, createApp } from "./app.ts";
export type { AppDeps } from "./deps.ts";
export { type Config, configSecrets, loadConfig } from "./env.ts";
export { type Clock, ManualClock, systemClock } from "./lib/clock.ts";
export { createLineApi, type LineApi } from "./lib/line/client.ts";
export { createLogger, scrubLine } from "./lib/logger.ts";
