import type { SmsMessage, SmsProvider } from "./types.ts";

/** SMS_PROVIDER=log: records every SMS instead of sending it (the sandbox's SMS inbox reads these). */
export function createLogSmsProvider(onSend?: (msg: SmsMessage & { at: Date }) => void): SmsProvider & { sent: (SmsMessage & { at: Date })[] } {
  const sent: (SmsMessage & { at: Date })[] = [];
  return {
    name: "log",
    sent,
    async send(msg) {
      const rec = { ...msg, at: new Date() };
      sent.push(rec);
      onSend?.(rec);
      return { providerReference: `log-${msg.reference}` };
    },
  };
}
