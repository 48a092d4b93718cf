import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { notFound } from "../lib/errors.ts";
import { externalId, lineUserIdSchema } from "../lib/ids.ts";
import { defineOperations, errorResponse, isoString, mount } from "../lib/openapi.ts";
import { parseOr400 } from "../lib/validate.ts";
import { createBindingLink } from "./binding.ts";
import { getLineUser } from "./line-users.ts";
import { getMember, upsertMember } from "./members.ts";
import { eraseMember } from "./personal-data.ts";
import { consentLedgerOf, lineConsent, recordAdminConsent } from "./preferences.ts";

const memberBody = z
  .object({
    phone: z.string().min(1).max(40).meta({ description: "any common Taiwan form (0912-345-678, +886 912 345 678); stored as E.164" }),
    name: z.string().max(100).optional(),
  })
  .strict();
const memberParams = z.object({ memberId: externalId }).strict();
const consentBody = z.object({ action: z.enum(["grant", "withdraw"]), reason: z.string().min(1).max(200).optional() }).strict();
const lineConsentSchema = z
  .object({ state: z.enum(["withdrawn", "granted", "none"]), since: isoString().nullable() })
  .strict()
  .meta({ description: "the member's LINE permission: the latest grant or withdrawal in the ledger" });
const member = z
  .object({
    memberId: z.string(),
    phone: z.string().nullable(),
    name: z.string().nullable(),
    lineUserId: z.string().nullable(),
    friend: z.boolean(),
    boundAt: z.iso.datetime().nullable(),
  })
  .strict()
  .meta({ id: "Member" });

/** The members API's contract (lib/openapi.ts). */
export const membersOperations = defineOperations({
  upsertMember: {
    operationId: "upsertMember",
    method: "put",
    path: "/members/:memberId",
    tag: "members",
    summary: "Create or update a member (your customer id and phone)",
    request: { params: memberParams, body: memberBody },
    responses: { 201: { description: "created", schema: member }, 200: { description: "updated", schema: member } },
  },
  getMember: {
    operationId: "getMember",
    method: "get",
    path: "/members/:memberId",
    tag: "members",
    summary: "A member, their LINE binding and friendship",
    request: { params: memberParams },
    responses: { 200: { description: "the member", schema: member }, 404: errorResponse("no such member") },
  },
  createBindingLink: {
    operationId: "createBindingLink",
    method: "post",
    path: "/members/:memberId/binding-links",
    tag: "members",
    summary: "A signed, single-use LIFF link (30 min) that binds the member's LINE account with consent",
    request: { params: memberParams },
    responses: {
      201: { description: "the link", schema: z.object({ url: z.url(), expiresAt: z.iso.datetime() }).strict() },
      404: errorResponse("no such member"),
    },
  },
  getLineUser: {
    operationId: "getLineUser",
    method: "get",
    path: "/line-users/:userId",
    tag: "members",
    summary: "A LINE user seen by the webhook: friend or not",
    request: { params: z.object({ userId: lineUserIdSchema }).strict() },
    responses: {
      200: {
        description: "the LINE user",
        schema: z
          .object({ userId: z.string(), friend: z.boolean(), followedAt: z.iso.datetime().nullable(), unfollowedAt: z.iso.datetime().nullable() })
          .strict(),
      },
      404: errorResponse("no such LINE user"),
    },
  },
  deleteMember: {
    operationId: "deleteMember",
    method: "delete",
    path: "/members/:memberId",
    tag: "members",
    summary: "Erase a member (個資法): phone, its hash and name; notifications and ledger rows stay, pseudonymised",
    request: { params: memberParams },
    responses: { 204: { description: "erased" } },
  },
  getMemberConsents: {
    operationId: "getMemberConsents",
    method: "get",
    path: "/members/:memberId/consents",
    tag: "members",
    summary: "The member's consent ledger and the LINE permission routing derives from it",
    request: { params: memberParams },
    responses: {
      200: {
        description: "newest first",
        schema: z
          .object({
            memberId: z.string(),
            line: lineConsentSchema,
            items: z.array(z.looseObject({ id: z.number(), at: isoString(), action: z.string(), method: z.string() })),
          })
          .strict(),
      },
      404: errorResponse("no such member"),
    },
  },
  recordMemberConsent: {
    operationId: "recordMemberConsent",
    method: "post",
    path: "/members/:memberId/consents",
    tag: "members",
    summary: "Customer service records a member's LINE consent decision (method `admin`)",
    description: "`withdraw` stops every LINE message (push and PNP) to the member until they consent again; notices go by SMS.",
    request: { params: memberParams, body: consentBody },
    responses: {
      201: { description: "recorded", schema: z.object({ memberId: z.string(), line: lineConsentSchema }).strict() },
      404: errorResponse("no such member"),
    },
  },
});
const ops = membersOperations;

/** 404 unless the member exists (and was not erased). */
async function requireMember(deps: AppDeps, memberId: string): Promise<void> {
  if ((await deps.db.query(sql`select 1 from members where member_id = ${memberId} and erased_at is null`)).length === 0) throw notFound("member");
}

/** Backend API for members, their binding links and LINE users. Mounted under /api/v1 behind the API key. */
export function membersRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, ops.upsertMember, async (req, res) => {
    const { memberId } = parseOr400(ops.upsertMember.request.params, req.params, "params");
    const input = parseOr400(ops.upsertMember.request.body, req.body);
    const { member, created } = await upsertMember({ db: deps.db.db, clock: deps.clock, memberId, input });
    req.log.info({ memberId, phoneLast3: member.phone?.slice(-3), created }, "member upserted");
    res.status(created ? 201 : 200).json(member);
  });
  mount(r, ops.getMember, async (req, res) => {
    const { memberId } = parseOr400(ops.getMember.request.params, req.params, "params");
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
  mount(r, ops.deleteMember, async (req, res) => {
    const { memberId } = parseOr400(ops.deleteMember.request.params, req.params, "params");
    const out = await eraseMember(deps.db.db, { clock: deps.clock, memberId });
    req.log.info({ memberId, notifications: out.notifications }, "member erased");
    res.status(204).end();
  });
  mount(r, ops.createBindingLink, async (req, res) => {
    const { memberId } = parseOr400(ops.createBindingLink.request.params, req.params, "params");
    await requireMember(deps, memberId);
    const link = await createBindingLink({ db: deps.db.db, clock: deps.clock, appSecret: deps.config.appSecret, liffId: deps.config.line.liffId, memberId });
    req.log.info({ memberId, expiresAt: link.expiresAt }, "binding link created");
    res.status(201).json(link);
  });
  // The member's consent ledger and the LINE permission routing derives from it (docs/routing.md).
  mount(r, ops.getMemberConsents, async (req, res) => {
    const { memberId } = parseOr400(ops.getMemberConsents.request.params, req.params, "params");
    await requireMember(deps, memberId);
    res.json({ memberId, line: await lineConsent(deps.db.db, memberId), items: await consentLedgerOf(deps.db.db, memberId) });
  });
  // Customer service records a member's decision given by phone or at a counter (method `admin`).
  mount(r, ops.recordMemberConsent, async (req, res) => {
    const { memberId } = parseOr400(ops.recordMemberConsent.request.params, req.params, "params");
    const body = parseOr400(consentBody, req.body);
    const line = await recordAdminConsent(deps.db.db, { clock: deps.clock, memberId, action: body.action, reason: body.reason });
    req.log.info({ memberId, action: body.action, method: "admin" }, "consent recorded");
    res.status(201).json({ memberId, line });
  });
  mount(r, ops.getLineUser, async (req, res) => {
    const { userId } = parseOr400(ops.getLineUser.request.params, req.params, "params");
    const user = await getLineUser({ db: deps.db.db, userId });
    if (!user) throw notFound("LINE user");
    res.json(user);
  });
  return r;
}
