import { createHmac, randomInt, randomUUID, timingSafeEqual } from "node:crypto";
import { type Db, type DbOrTx, sql, type Tx } from "@oa-notify/db";
import { jwtVerify, SignJWT } from "jose";
import type { Clock } from "../lib/clock.ts";
import { AppError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { SmsProvider } from "../lib/sms/types.ts";
import { CONSENT_PURPOSE } from "./consent.ts";

type Rows<T> = { rows: T[] };
const rows = async <T>(db: DbOrTx, q: ReturnType<typeof sql>): Promise<T[]> => ((await db.execute(q)) as unknown as Rows<T>).rows;
const iso = (d: Date) => d.toISOString();

// ---------------------------------------------------------------------------------------------------------------
// Binding links: proof of ownership issued by the business's backend for one member.

const BIND_AUD = "oa-notify:bind";
export const BINDING_LINK_TTL_SECONDS = 30 * 60;
const hsKey = (secret: string) => new TextEncoder().encode(secret);

export async function createBindingLink({
  db,
  clock,
  appSecret,
  liffId,
  memberId,
}: {
  db: DbOrTx;
  clock: Clock;
  appSecret: string;
  liffId: string;
  memberId: string;
}): Promise<{ url: string; expiresAt: string }> {
  const now = clock.now();
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + BINDING_LINK_TTL_SECONDS;
  const jti = randomUUID();
  const expiresAt = new Date(exp * 1000);
  // The row is what makes the token single-use: it is consumed atomically when the binding commits.
  await db.execute(sql`insert into binding_tokens (jti, member_id, expires_at, created_at)
    values (${jti}, ${memberId}, ${iso(expiresAt)}::timestamptz, ${iso(now)}::timestamptz)`);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setAudience(BIND_AUD)
    .setSubject(memberId)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(hsKey(appSecret));
  return { url: `https://liff.line.me/${liffId}/bind?token=${token}`, expiresAt: iso(expiresAt) };
}

export async function verifyBindingToken(appSecret: string, token: string, now: Date): Promise<{ jti: string; memberId: string } | null> {
  try {
    const { payload } = await jwtVerify(token, hsKey(appSecret), { audience: BIND_AUD, algorithms: ["HS256"], currentDate: now });
    if (typeof payload.jti !== "string" || typeof payload.sub !== "string") return null;
    return { jti: payload.jti, memberId: payload.sub };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The binding itself and the consent ledger.

export type ConsentMethod = "binding_link" | "otp" | "liff" | "rebind" | "admin" | "erasure";

/** One consent ledger row (append-only). */
export async function ledger(
  tx: DbOrTx,
  row: { memberId: string; lineUserId: string | null; action: "grant" | "withdraw"; noticeVersion: string; method: ConsentMethod; at: Date; detail?: unknown },
) {
  await tx.execute(sql`insert into consent_ledger (member_id, line_user_id, action, purpose, notice_version, method, at, detail)
    values (${row.memberId}, ${row.lineUserId}, ${row.action}, ${CONSENT_PURPOSE}, ${row.noticeVersion}, ${row.method},
            ${iso(row.at)}::timestamptz, ${row.detail === undefined ? null : JSON.stringify(row.detail)}::jsonb)`);
}

/** The notice version of the grant a withdrawal ends, so the ledger pairs them. */
export async function lastGrantVersion(tx: DbOrTx, memberId: string, lineUserId: string | null): Promise<string> {
  const r = await rows<{ notice_version: string }>(
    tx,
    sql`select notice_version from consent_ledger
    where member_id = ${memberId} and (${lineUserId}::text is null or line_user_id = ${lineUserId}) and action = 'grant' order by id desc limit 1`,
  );
  return r[0]?.notice_version ?? "unknown";
}

/**
 * Binds `lineUserId` to `memberId` inside the caller's transaction. One LINE user ↔ one member: a previous binding of
 * this LINE user (another member) or of this member (another LINE user) is ended first, with a withdrawal row in the
 * ledger for each, so the ledger always explains who could be reached at any moment.
 */
export async function bindMember(
  tx: Tx,
  {
    clock,
    memberId,
    lineUserId,
    method,
    noticeVersion,
    detail,
  }: {
    clock: Clock;
    memberId: string;
    lineUserId: string;
    method: "binding_link" | "otp";
    noticeVersion: string;
    detail?: Record<string, unknown>;
  },
): Promise<{ memberId: string; boundAt: string; moved: boolean }> {
  const now = clock.now();
  const target = await rows<{ member_id: string; line_user_id: string | null }>(
    tx,
    sql`select member_id, line_user_id from members where member_id = ${memberId} for update`,
  );
  if (!target[0]) throw new AppError("not_found", "member not found");
  let moved = false;
  const previous = await rows<{ member_id: string }>(
    tx,
    sql`select member_id from members where line_user_id = ${lineUserId} and member_id <> ${memberId} for update`,
  );
  for (const p of previous) {
    const version = await lastGrantVersion(tx, p.member_id, lineUserId);
    await tx.execute(sql`update members set line_user_id = null, bound_at = null, updated_at = ${iso(now)}::timestamptz where member_id = ${p.member_id}`);
    await ledger(tx, {
      memberId: p.member_id,
      lineUserId,
      action: "withdraw",
      noticeVersion: version,
      method: "rebind",
      at: now,
      detail: { reason: "line_user_bound_to_another_member" },
    });
    moved = true;
  }
  const oldUser = target[0].line_user_id;
  if (oldUser && oldUser !== lineUserId) {
    const version = await lastGrantVersion(tx, memberId, oldUser);
    await ledger(tx, {
      memberId,
      lineUserId: oldUser,
      action: "withdraw",
      noticeVersion: version,
      method: "rebind",
      at: now,
      detail: { reason: "member_bound_to_another_line_user" },
    });
    moved = true;
  }
  await tx.execute(sql`update members set line_user_id = ${lineUserId}, bound_at = ${iso(now)}::timestamptz, updated_at = ${iso(now)}::timestamptz
    where member_id = ${memberId}`);
  await ledger(tx, { memberId, lineUserId, action: "grant", noticeVersion, method, at: now, detail });
  return { memberId, boundAt: iso(now), moved };
}

/** Ends this LINE user's binding at once; the notifier routes by members.line_user_id, so pushes stop now. */
export async function unbindLineUser(db: Db, { clock, lineUserId }: { clock: Clock; lineUserId: string }): Promise<{ memberId: string } | null> {
  return db.transaction(async (tx) => {
    const now = clock.now();
    const m = await rows<{ member_id: string }>(tx, sql`select member_id from members where line_user_id = ${lineUserId} for update`);
    const memberId = m[0]?.member_id;
    if (!memberId) return null;
    const version = await lastGrantVersion(tx, memberId, lineUserId);
    await tx.execute(sql`update members set line_user_id = null, bound_at = null, updated_at = ${iso(now)}::timestamptz where member_id = ${memberId}`);
    await ledger(tx, { memberId, lineUserId, action: "withdraw", noticeVersion: version, method: "liff", at: now });
    return { memberId };
  });
}

/** A unique-index race (two binds of one LINE user at once) is a conflict, not a 500. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | null;
  return e?.code === "23505" || e?.cause?.code === "23505";
}

// ---------------------------------------------------------------------------------------------------------------
// Phone + OTP.

export const OTP_TTL_SECONDS = 5 * 60;
export const OTP_MAX_ATTEMPTS = 5;
/** Per phone and per LINE user: [window seconds, max requests]. */
export const OTP_LIMITS: [number, number][] = [
  [10 * 60, 3],
  [24 * 3600, 10],
];

const codeHash = (appSecret: string, challengeId: string, code: string) => createHmac("sha256", appSecret).update(`otp:${challengeId}:${code}`).digest("hex");

/** Seconds until the caller may ask again, or 0 when under every limit. */
async function otpRetryAfter(tx: DbOrTx, column: "phone_hash" | "line_user_id", value: string, now: Date): Promise<number> {
  let wait = 0;
  for (const [windowSeconds, max] of OTP_LIMITS) {
    const since = new Date(now.getTime() - windowSeconds * 1000);
    const col = sql.raw(column);
    const r = await rows<{ created_at: Date | string }>(
      tx,
      sql`select created_at from otp_challenges
      where ${col} = ${value} and created_at > ${iso(since)}::timestamptz order by created_at desc limit ${max}`,
    );
    if (r.length >= max) {
      const oldest = new Date(r[r.length - 1]!.created_at);
      wait = Math.max(wait, Math.ceil((oldest.getTime() + windowSeconds * 1000 - now.getTime()) / 1000));
    }
  }
  return wait;
}

/**
 * Issues a code for (LINE user, phone). The response never tells whether the phone belongs to a member: a challenge
 * row is written either way (so the rate limits count the same), and the SMS goes out only to a member's phone.
 */
export async function requestOtp({
  db,
  clock,
  sms,
  logger,
  appSecret,
  lineUserId,
  phoneE164,
  phoneHash,
  purpose = "bind",
}: {
  db: Db;
  clock: Clock;
  sms: SmsProvider;
  logger: Logger;
  appSecret: string;
  lineUserId: string;
  phoneE164: string;
  phoneHash: string;
  /** "phone_change": a bound member proving a new number (members/phone-change.ts): the code goes to any number. */
  purpose?: "bind" | "phone_change";
}): Promise<{ expiresAt: string }> {
  const now = clock.now();
  const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
  const id = randomUUID();
  const expiresAt = new Date(now.getTime() + OTP_TTL_SECONDS * 1000);
  const isMember = await db.transaction(async (tx) => {
    // Serialise requests for the same phone or user so parallel calls cannot slip past the counts.
    for (const key of [`otp:p:${phoneHash}`, `otp:u:${lineUserId}`].sort()) {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${key}))`);
    }
    const wait = Math.max(await otpRetryAfter(tx, "phone_hash", phoneHash, now), await otpRetryAfter(tx, "line_user_id", lineUserId, now));
    if (wait > 0) {
      throw new AppError("rate_limited", "too many code requests; try again later", { retryAfterSeconds: wait }, { "Retry-After": String(wait) });
    }
    const m = await rows<{ n: number | string }>(tx, sql`select count(*) as n from members where phone_hash = ${phoneHash}`);
    await tx.execute(sql`insert into otp_challenges (id, line_user_id, phone_hash, code_hash, expires_at, attempts, created_at)
      values (${id}, ${lineUserId}, ${phoneHash}, ${codeHash(appSecret, id, code)}, ${iso(expiresAt)}::timestamptz, 0, ${iso(now)}::timestamptz)`);
    return Number(m[0]?.n ?? 0) > 0;
  });
  if (isMember || purpose === "phone_change") {
    const outboxId = randomUUID();
    await db.execute(sql`insert into sms_outbox (id, purpose, phone_hash, provider, status, created_at)
      values (${outboxId}, ${purpose === "bind" ? "otp" : "otp_phone_change"}, ${phoneHash}, ${sms.name}, 'sending', ${iso(now)}::timestamptz)`);
    try {
      const res = await sms.send({
        to: phoneE164,
        text:
          purpose === "bind"
            ? `【LINE 綁定驗證碼】${code}，5 分鐘內有效，請勿提供給他人。Your LINE binding code is ${code} (valid 5 min).`
            : `【手機號碼變更驗證碼】${code}，5 分鐘內有效，請勿提供給他人。Your phone change code is ${code} (valid 5 min).`,
        reference: `otp-${id}`,
      });
      await db.execute(
        sql`update sms_outbox set status = 'sent', provider_reference = ${res.providerReference}, sent_at = ${iso(clock.now())}::timestamptz where id = ${outboxId}`,
      );
    } catch (err) {
      await db.execute(sql`update sms_outbox set status = 'failed' where id = ${outboxId}`);
      logger.warn({ err, phoneLast3: phoneE164.slice(-3) }, "OTP SMS failed");
      throw new AppError("unavailable", "the code could not be sent; please try again");
    }
  }
  return { expiresAt: iso(expiresAt) };
}

/**
 * Checks a code against the newest open challenge of this LINE user for this phone (another LINE user's challenge
 * is never looked at). Every try counts before the comparison; after OTP_MAX_ATTEMPTS the challenge is locked (429).
 * Returns the challenge id to consume inside the binding transaction.
 */
export async function checkOtp(
  db: Db,
  {
    clock,
    appSecret,
    lineUserId,
    phoneHash,
    code,
  }: {
    clock: Clock;
    appSecret: string;
    lineUserId: string;
    phoneHash: string;
    code: string;
  },
): Promise<string> {
  const now = clock.now();
  const latest = await rows<{ id: string; attempts: number; expires_at: Date | string }>(
    db,
    sql`select id, attempts, expires_at from otp_challenges
    where line_user_id = ${lineUserId} and phone_hash = ${phoneHash} and consumed_at is null order by created_at desc limit 1`,
  );
  const c = latest[0];
  const invalid = () => new AppError("bad_request", "the code is wrong or has expired; request a new code");
  if (!c) throw invalid();
  if (c.attempts >= OTP_MAX_ATTEMPTS) throw new AppError("rate_limited", "too many wrong codes; request a new code");
  if (new Date(c.expires_at).getTime() <= now.getTime()) throw invalid();
  const counted = await rows<{ code_hash: string; attempts: number }>(
    db,
    sql`update otp_challenges set attempts = attempts + 1
    where id = ${c.id} and attempts < ${OTP_MAX_ATTEMPTS} and consumed_at is null returning code_hash, attempts`,
  );
  const row = counted[0];
  if (!row) throw new AppError("rate_limited", "too many wrong codes; request a new code");
  const expected = Buffer.from(row.code_hash, "hex");
  const given = Buffer.from(codeHash(appSecret, c.id, code), "hex");
  if (!timingSafeEqual(expected, given)) {
    const left = OTP_MAX_ATTEMPTS - row.attempts;
    throw new AppError("bad_request", left > 0 ? `the code is wrong; ${left} attempt(s) left` : "the code is wrong; request a new code", {
      attemptsLeft: left,
    });
  }
  return c.id;
}

/** Marks the challenge used; false when a parallel request already used it. */
export async function consumeOtp(tx: Tx, { clock, challengeId }: { clock: Clock; challengeId: string }): Promise<boolean> {
  const r = await rows<{ id: string }>(
    tx,
    sql`update otp_challenges set consumed_at = ${iso(clock.now())}::timestamptz
    where id = ${challengeId} and consumed_at is null returning id`,
  );
  return r.length > 0;
}

export async function consumeBindingToken(tx: Tx, { clock, jti, lineUserId }: { clock: Clock; jti: string; lineUserId: string }): Promise<string | null> {
  const now = iso(clock.now());
  const r = await rows<{ member_id: string }>(
    tx,
    sql`update binding_tokens set used_at = ${now}::timestamptz, used_by_line_user_id = ${lineUserId}
    where jti = ${jti} and used_at is null and expires_at > ${now}::timestamptz returning member_id`,
  );
  return r[0]?.member_id ?? null;
}
