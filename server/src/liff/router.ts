import { sql } from "@oa-notify/db";
import express, { type RequestHandler, Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { externalId } from "../lib/ids.ts";
import { maskPhone, normalizePhone, phoneHash } from "../lib/phone.ts";
import { parseOr400, storableBody } from "../lib/validate.ts";
import { verifyViewToken } from "../lib/view-token.ts";
import {
  bindMember,
  checkOtp,
  consumeBindingToken,
  consumeOtp,
  isUniqueViolation,
  requestOtp,
  unbindLineUser,
  verifyBindingToken,
} from "../members/binding.ts";
import { CURRENT_CONSENT_NOTICE_VERSION, isKnownNoticeVersion } from "../members/consent.ts";
import { boundMember, changePhone } from "../members/phone-change.ts";
import { createIdTokenVerifier, IdTokenRejected, JwksUnavailable } from "./id-token.ts";
import { type NextStepType, readNextStep } from "./next-step.ts";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified LIFF ID token's `sub`: the only identity /liff-api trusts. */
      lineUserId?: string;
    }
  }
}

const consentSchema = z.object({ version: z.string().min(1).max(64), accepted: z.literal(true) }).strict();
const withConsent = z.object({ consent: consentSchema }).loose();
const byToken = z.object({ bindingToken: z.string().min(10).max(4000), consent: consentSchema }).strict();
const byOtp = z.object({ phone: z.string().min(1).max(40), otp: z.string().regex(/^\d{6}$/, "6 digits"), consent: consentSchema }).strict();
const otpBody = z.object({ phone: z.string().min(1).max(40) }).strict();
const phoneChangeBody = z.object({ phone: z.string().min(1).max(40), otp: z.string().regex(/^\d{6}$/, "6 digits") }).strict();
const viewQuery = z.object({ t: z.string().min(10).max(4000).optional() }).loose();
const promptBody = z.object({ viewToken: z.string().max(4000).optional(), page: z.enum(["order", "bill", "bind", "settings"]).optional() }).strict();

const phoneOr400 = (input: string) => {
  const p = normalizePhone(input);
  if (!p.ok) throw new AppError("validation_failed", `body.phone: ${p.reason}`, [{ field: "body.phone", message: p.reason }]);
  return { e164: p.e164, hash: phoneHash(p.e164) };
};

/** GET /liff-config: what the LIFF app needs at start, so one build serves every environment. */
export function liffConfigHandler(deps: AppDeps): RequestHandler {
  return (_req, res) => {
    const { liffId, oaBasicId } = deps.config.line;
    res.set("cache-control", "no-store").json({
      liffId,
      apiBase: "/liff-api",
      sandbox: deps.config.sandbox,
      addFriendUrl: oaBasicId ? `https://line.me/R/ti/p/${/^@?[\w.-]+$/.test(oaBasicId) ? oaBasicId : encodeURIComponent(oaBasicId)}` : null,
      consentVersion: CURRENT_CONSENT_NOTICE_VERSION,
    });
  };
}

export function liffApiRouter(deps: AppDeps): Router {
  const { db, clock, config } = deps;
  const verify = createIdTokenVerifier({ apiBaseUrl: () => deps.line.baseUrl, channelId: () => config.line.loginChannelId, clock });
  const r = Router();
  r.use((_req, res, next) => {
    res.set("cache-control", "no-store");
    next();
  });
  r.use((async (req, _res, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.get("authorization") ?? "");
    if (!m) throw new AppError("unauthorized", "missing LIFF ID token (Authorization: Bearer <ID token>)");
    try {
      const user = await verify(m[1]!);
      req.lineUserId = user.sub;
      req.log = req.log.child({ lineUserId: user.sub });
    } catch (err) {
      if (err instanceof JwksUnavailable) throw new AppError("unavailable", "cannot verify the ID token right now");
      if (err instanceof IdTokenRejected) {
        req.log.info({ reason: err.message }, "LIFF ID token rejected");
        throw new AppError("unauthorized", "invalid or expired LIFF ID token");
      }
      throw err;
    }
    next();
  }) as RequestHandler);
  r.use(express.json({ limit: "16kb" }), storableBody);

  const user = (req: express.Request) => req.lineUserId!;

  r.get("/me", async (req, res) => {
    const u = user(req);
    const m = await db.query<{ member_id: string; phone_e164: string | null; bound_at: Date | string | null }>(
      sql`select member_id, phone_e164, bound_at from members where line_user_id = ${u}`,
    );
    const f = await db.query<{ friend: boolean }>(sql`select friend from line_users where user_id = ${u}`);
    const member = m[0];
    res.json({
      lineUserId: u,
      member: member
        ? { memberId: member.member_id, phone: maskPhone(member.phone_e164), boundAt: member.bound_at ? new Date(member.bound_at).toISOString() : null }
        : null,
      friend: Boolean(f[0]?.friend),
    });
  });

  r.post("/otp", async (req, res) => {
    const body = parseOr400(otpBody, req.body);
    const phone = phoneOr400(body.phone);
    const out = await requestOtp({
      db: db.db,
      clock,
      sms: deps.sms,
      logger: req.log,
      appSecret: config.appSecret,
      lineUserId: user(req),
      phoneE164: phone.e164,
      phoneHash: phone.hash,
    });
    req.log.info({ phoneLast3: phone.e164.slice(-3) }, "OTP requested");
    // The same answer whether or not the phone belongs to a member.
    res.status(202).json({ sent: true, expiresAt: out.expiresAt });
  });

  r.post("/bindings", async (req, res) => {
    // Consent first: without it nothing else is looked at (no OTP attempt is spent, no link consumed).
    const { consent } = parseOr400(withConsent, req.body);
    if (!isKnownNoticeVersion(consent.version)) {
      throw new AppError("validation_failed", "body.consent.version: not a notice version we have shown", [
        { field: "body.consent.version", message: "unknown notice version" },
      ]);
    }
    const u = user(req);
    const body = req.body as Record<string, unknown>;
    try {
      if ("bindingToken" in body) {
        const input = parseOr400(byToken, body);
        const claims = await verifyBindingToken(config.appSecret, input.bindingToken, clock.now());
        if (!claims) throw new AppError("bad_request", "this binding link is invalid or has expired; ask for a new one");
        const bound = await db.db.transaction(async (tx) => {
          const memberId = await consumeBindingToken(tx, { clock, jti: claims.jti, lineUserId: u });
          if (!memberId || memberId !== claims.memberId) throw new AppError("conflict", "this binding link has already been used or has expired");
          return bindMember(tx, { clock, memberId, lineUserId: u, method: "binding_link", noticeVersion: consent.version, detail: { jti: claims.jti } });
        });
        req.log.info({ memberId: bound.memberId, method: "binding_link", moved: bound.moved }, "bound");
        return res.status(201).json({ memberId: bound.memberId, boundAt: bound.boundAt });
      }
      const input = parseOr400(byOtp, body);
      const phone = phoneOr400(input.phone);
      const challengeId = await checkOtp(db.db, { clock, appSecret: config.appSecret, lineUserId: u, phoneHash: phone.hash, code: input.otp });
      const bound = await db.db.transaction(async (tx) => {
        if (!(await consumeOtp(tx, { clock, challengeId }))) throw new AppError("conflict", "this code has already been used");
        const owners = (
          (await tx.execute(sql`select member_id from members where phone_hash = ${phone.hash} order by member_id`)) as unknown as {
            rows: { member_id: string }[];
          }
        ).rows;
        if (owners.length === 0) throw new AppError("bad_request", "the code is wrong or has expired; request a new code");
        if (owners.length > 1) throw new AppError("conflict", "several accounts share this phone number; please use the binding link from the business");
        return bindMember(tx, {
          clock,
          memberId: owners[0]!.member_id,
          lineUserId: u,
          method: "otp",
          noticeVersion: consent.version,
          detail: { phoneLast3: phone.e164.slice(-3) },
        });
      });
      req.log.info({ memberId: bound.memberId, method: "otp", moved: bound.moved }, "bound");
      return res.status(201).json({ memberId: bound.memberId, boundAt: bound.boundAt });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError("conflict", "another binding for this LINE user happened at the same time; try again");
      throw err;
    }
  });

  r.delete("/bindings", async (req, res) => {
    const out = await unbindLineUser(db.db, { clock, lineUserId: user(req) });
    if (!out) throw notFound("binding");
    req.log.info({ memberId: out.memberId }, "unbound (consent withdrawn)");
    res.status(204).end();
  });

  // Settings: change the bound member's phone number, proven by a code sent to the new number (members/phone-change.ts).
  r.post("/phone/otp", async (req, res) => {
    const body = parseOr400(otpBody, req.body);
    const phone = phoneOr400(body.phone);
    await boundMember(db.db, user(req));
    const out = await requestOtp({
      db: db.db,
      clock,
      sms: deps.sms,
      logger: req.log,
      appSecret: config.appSecret,
      lineUserId: user(req),
      phoneE164: phone.e164,
      phoneHash: phone.hash,
      purpose: "phone_change",
    });
    req.log.info({ phoneLast3: phone.e164.slice(-3) }, "phone change code requested");
    res.status(202).json({ sent: true, expiresAt: out.expiresAt });
  });
  r.post("/phone", async (req, res) => {
    const body = parseOr400(phoneChangeBody, req.body);
    const phone = phoneOr400(body.phone);
    const out = await changePhone(db.db, { clock, appSecret: config.appSecret, lineUserId: user(req), phone, code: body.otp });
    req.log.info({ memberId: out.memberId, phoneLast3: phone.e164.slice(-3) }, "phone changed");
    res.json({ memberId: out.memberId, phone: maskPhone(phone.e164) });
  });

  r.get("/consents", async (req, res) => {
    const items = await db.query<{ at: Date | string; action: string; purpose: string; notice_version: string; method: string; member_id: string }>(
      sql`select at, action, purpose, notice_version, method, member_id from consent_ledger where line_user_id = ${user(req)} order by id desc limit 100`,
    );
    res.json({
      items: items.map((i) => ({
        at: new Date(i.at).toISOString(),
        action: i.action,
        purpose: i.purpose,
        noticeVersion: i.notice_version,
        method: i.method,
        memberId: i.member_id,
      })),
    });
  });

  const nextStep =
    (type: NextStepType): RequestHandler =>
    async (req, res) => {
      const parsedId = externalId.safeParse(req.params["id"]);
      const q = viewQuery.safeParse(req.query);
      // A malformed id or token is answered like a missing record: the page never learns what exists.
      const found =
        parsedId.success && q.success
          ? await readNextStep(db.db, { clock, appSecret: config.appSecret, type, id: parsedId.data, lineUserId: user(req), viewToken: q.data.t })
          : null;
      if (!found) throw notFound(type);
      res.json({ ...found.record, viewer: found.viewer });
    };
  r.get("/orders/:id", nextStep("order"));
  r.get("/bills/:id", nextStep("bill"));

  r.post("/friend-prompts", async (req, res) => {
    const body = parseOr400(promptBody, req.body ?? {});
    const claims = body.viewToken ? await verifyViewToken(config.appSecret, body.viewToken, clock.now()) : null;
    const nid = claims && /^[0-9a-f-]{36}$/i.test(claims.nid) ? claims.nid : null;
    const rows = await db.query<{ id: number }>(sql`insert into friend_prompts (line_user_id, notification_id, prompted_at)
      values (${user(req)}, ${nid}, ${clock.now().toISOString()}::timestamptz) returning id`);
    res.status(201).json({ id: Number(rows[0]!.id) });
  });

  return r;
}
