export interface SmsMessage {
  /** E.164 */
  to: string;
  text: string;
  /** Our id for this SMS (the notification id): providers that dedupe on it make retries safe. */
  reference: string;
}
export interface SmsResult {
  providerReference: string | null;
}
export interface SmsProvider {
  readonly name: "http" | "mitake" | "log";
  send(msg: SmsMessage): Promise<SmsResult>;
}

/** A provider error that may be retried (the provider surely did not accept the message). */
export class SmsRetryableError extends Error {}
