import { createHash } from "node:crypto";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";

// LINE Notification Messages reach numbers issued in these countries only (LINE's notification-messages technical specs; docs/routing.md).
const PNP_COUNTRIES = new Set(["TW", "JP", "TH"]);
const MOBILE_TYPES = new Set(["MOBILE", "FIXED_LINE_OR_MOBILE"]);

export type PhoneResult = { ok: true; e164: string; country: string } | { ok: false; reason: string };

/**
 * Normalises the forms people actually write (`0912-345-678`, `+886 912 345 678`, `886912345678`,
 * `(09)12 345 678`) to E.164. Only mobile numbers of the PNP countries pass: a landline can get neither LINE nor SMS.
 */
export function normalizePhone(input: string): PhoneResult {
  const raw = input.trim();
  if (!/^[+\d\s\-().]{6,25}$/.test(raw)) return { ok: false, reason: "not a phone number" };
  const digits = raw.replace(/\D/g, "");
  const candidates = [raw];
  // "886912345678": an international number written without its "+".
  if (!raw.startsWith("+") && !raw.startsWith("0")) candidates.push(`+${digits}`);
  for (const c of candidates) {
    const p = parsePhoneNumberFromString(c, "TW");
    if (!p?.isValid() || !p.country) continue;
    if (!PNP_COUNTRIES.has(p.country)) return { ok: false, reason: `numbers from ${p.country} are not supported` };
    const type = p.getType();
    if (type && !MOBILE_TYPES.has(type)) return { ok: false, reason: "not a mobile number" };
    return { ok: true, e164: p.number, country: p.country };
  }
  return { ok: false, reason: "not a valid Taiwan (or Japan/Thailand) mobile number" };
}

/** LINE PNP's `to`: lowercase hex SHA-256 of the E.164 string with its "+". */
export function phoneHash(e164: string): string {
  return createHash("sha256").update(e164, "utf8").digest("hex");
}

/** What logs and masked UIs may show of a number. */
export function maskPhone(e164: string | null | undefined): string | null {
  if (!e164) return null;
  return `${e164.slice(0, 4)}*****${e164.slice(-3)}`;
}
