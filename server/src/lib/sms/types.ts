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
  /**
   * True when the provider itself drops a second message with the same `reference` (Mitake's `clientid`): only then
   * may a call whose outcome is unknown (timeout, crash) be repeated without risking a second SMS.
   */
  readonly dedupesOnReference?: boolean;
  send(msg: SmsMessage): Promise<SmsResult>;
}

/** A provider error that may be retried (the provider surely did not accept the message). */
export class SmsRetryableError extends Error {
  override name = "SmsRetryableError";
}

/** The provider refused the message for good (bad number, bad credentials): it was not accepted, retrying won't help. */
export class SmsRejectedError extends Error {
  override name = "SmsRejectedError";
}
