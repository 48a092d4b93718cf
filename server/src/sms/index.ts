import type { Config } from "../env.ts";
import type { Logger } from "../lib/logger.ts";
import { createLogSmsProvider } from "./log.ts";
import type { SmsProvider } from "./types.ts";

export function createSmsProvider(config: Config, logger: Logger): SmsProvider {
  switch (config.sms.provider) {
    case "log":
    default:
      return createLogSmsProvider((m) => logger.info({ reference: m.reference, toLast3: m.to.slice(-3) }, "sms (log provider)"));
  }
}
