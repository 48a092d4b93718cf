import type { Config } from "../../env.ts";
import type { Logger } from "../logger.ts";
import { createHttpSmsProvider } from "./http.ts";
import { createLogSmsProvider } from "./log.ts";
import { createMitakeSmsProvider } from "./mitake.ts";
import type { SmsProvider } from "./types.ts";

export function createSmsProvider(config: Config, logger: Logger): SmsProvider {
  switch (config.sms.provider) {
    case "http":
      return createHttpSmsProvider({ url: config.sms.httpUrl!, secret: config.sms.httpSecret! });
    case "mitake":
      return createMitakeSmsProvider({ url: config.sms.mitakeUrl, username: config.sms.mitakeUsername!, password: config.sms.mitakePassword! });
    case "log":
    default:
      return createLogSmsProvider((m) => logger.info({ reference: m.reference, toLast3: m.to.slice(-3) }, "sms (log provider)"));
  }
}
