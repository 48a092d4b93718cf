import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { notFound } from "../lib/errors.ts";
import { externalId, lineUserIdSchema } from "../lib/ids.ts";
import { parseOr400 } from "../lib/validate.ts";
import { createBindingLink } from "./binding.ts";
import { getLineUser } from "./line-users.ts";
import { getMember, upsertMember } from "./members.ts";
import { eraseMember } from "./personal-data.ts";
import { consentLedgerOf, lineConsent, recordAdminConsent } from "./preferences.ts";

const consentBody = z.object({ action: z.enum(["grant", "withdraw"]), reason: z.string().min(1).max(200).optional() }).strict();
const memberBody = z.object({ phone: z.string().min(1).max(40), name: z.string().max(100).optional() }).strict();

/** Backend API for members, their binding links and LINE users. Mounted under /api/v1 behind the API key. */
export function membersRouter(deps: AppDeps): Router {
  const r = Router();
  r.put("/members/:memberId", async (req, res) => {
    const memberId = parseOr400(externalId, req.params.memberId, "params.memberId");
    const input = parseOr400(memberBody, req.body);
    const { member, created } = await upsertMember({ db: deps.db.db, clock: deps.clock, memberId, input });
    req.log.info({ memberId, phoneLast3: member.phone?.slice(-3), created }, "member upserted");
    res.status(created ? 201 : 200).json(member);
  });
  r.get("/members/:memberId", async (req, res) => {
    const memberId = parseOr400(externalId, req.params.memberId, "params.memberId");
    const member = await getMember({ db: deps.db.db, memberId });
    if (!member) throw notFound("member");
    res.json({
      memberId: member.memberId,
      phone: member.phone,
      name: member.name,
      lineUserId: member.lineUserId,
      friend: member.friend,
      boundAt: member.boundAt,
    });
  });
  // Erasure (個資法): phone, hash and name gone; the id stays as a pseudonym (members/personal-data.ts).
  r.delete("/members/:memberId", async (req, res) => {
    const memberId = parseOr400(externalId, req.params.memberId, "params.memberId");
    const out = await eraseMember(deps.db.db, { clock: deps.clock, memberId });
    req.log.info({ memberId, notifications: out.notifications }, "member erased");
    res.status(204).end();
  });
  r.post("/members/:memberId/binding-links", async (req, res) => {
    const memberId = parseOr400(externalId, req.params.memberId, "params.memberId");
    if ((await deps.db.query(sql`select 1 from members where member_id = ${memberId} and erased_at is null`)).length === 0) throw notFound("member");
    const link = await createBindingLink({ db: deps.db.db, clock: deps.clock, appSecret: deps.config.appSecret, liffId: deps.config.line.liffId, memberId });
    req.log.info({ memberId, expiresAt: link.expiresAt }, "binding link created");
    res.status(201).json(link);
  });
  // The member's consent ledger and the LINE permission routing derives from it (docs/routing.md).
  r.get("/members/:memberId/consents", async (req, res) => {
    const memberId = parseOr400(externalId, req.params.memberId, "params.memberId");
    if ((await deps.db.query(sql`select 1 from members where member_id = ${memberId} and erased_at is null`)).length === 0) throw notFound("member");
    res.json({ memberId, line: await lineConsent(deps.db.db, memberId), items: await consentLedgerOf(deps.db.db, memberId) });
  });
  // Customer service records a member's decision given by phone or at a counter (method `admin`).
  r.post("/members/:memberId/consents", async (req, res) => {
    const memberId = parseOr400(externalId, req.params.memberId, "params.memberId");
    const body = parseOr400(consentBody, req.body);
    const line = await recordAdminConsent(deps.db.db, { clock: deps.clock, memberId, action: body.action, reason: body.reason });
    req.log.info({ memberId, action: body.action, method: "admin" }, "consent recorded");
    res.status(201).json({ memberId, line });
  });
  r.get("/line-users/:userId", async (req, res) => {
    const userId = parseOr400(lineUserIdSchema, req.params.userId, "params.userId");
    const user = await getLineUser({ db: deps.db.db, userId });
    if (!user) throw notFound("LINE user");
    res.json(user);
  });
  return r;
}
