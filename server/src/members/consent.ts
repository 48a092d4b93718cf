/**
 * The consent notice the LIFF bind page shows (liff-app/src/consent.ts holds its text). The ledger records which
 * version a person agreed to, so a version we never showed is refused: keep this list in step with the app and
 * never remove a version that may already be in the ledger.
 */
export const CONSENT_NOTICE_VERSIONS = ["2026-11-26.v1"] as const;
export const CURRENT_CONSENT_NOTICE_VERSION = CONSENT_NOTICE_VERSIONS[CONSENT_NOTICE_VERSIONS.length - 1]!;

/** What the binding is for: transactional notices by LINE (push/PNP) instead of SMS. Never advertising. */
export const CONSENT_PURPOSE = "transactional_notifications_via_line";

export const isKnownNoticeVersion = (v: string): boolean => (CONSENT_NOTICE_VERSIONS as readonly string[]).includes(v);
