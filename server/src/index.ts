export { createApp, type App, type AppDeps } from "./app.ts";
export { loadConfig, type Config } from "./env.ts";
export { ManualClock, systemClock, type Clock } from "./lib/clock.ts";
export { createLogger } from "./lib/logger.ts";
export { createLineApi, type LineApi } from "./line/client.ts";
