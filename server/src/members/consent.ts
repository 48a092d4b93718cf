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

/**
 * A member's LINE permission, derived from the ledger (docs/routing.md): the member's latest consent decision — the
 * newest row that is not a "rebind" (a LINE user moving to another member is no decision of this member's). When it
 * is a withdrawal, this SQL gives its time and no LINE message (push or PNP) goes to the member until a new grant
 * (binding again in LIFF, or customer service's `admin` grant). `member` names the member id column of the query.
 */
export const lineWithdrawnAtSql = (member: string) =>
  `(select case when cl.action = 'withdraw' then cl.at end from consent_ledger cl
     where cl.member_id = ${member} and cl.method <> 'rebind' order by cl.id desc limit 1)`;
