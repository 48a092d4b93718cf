import { sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { notFound } from "../lib/errors.ts";
import { externalId, lineUserIdSchema } from "../lib/ids.ts";
import { defineOperations, errorResponse, mount } from "../lib/openapi.ts";
import { parseOr400 } from "../lib/validate.ts";
import { createBindingLink } from "./binding.ts";
import { getLineUser } from "./line-users.ts";
import { getMember, upsertMember } from "./members.ts";

const memberBody = z
  .object({
    phone: z.string().min(1).max(40).meta({ description: "any common Taiwan form (0912-345-678, +886 912 345 678); stored as E.164" }),
    name: z.string().max(100).optional(),
  })
  .strict();
const memberParams = z.object({ memberId: externalId }).strict();
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
});
const ops = membersOperations;

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
  mount(r, ops.createBindingLink, async (req, res) => {
    const { memberId } = parseOr400(ops.createBindingLink.request.params, req.params, "params");
    if ((await deps.db.query(sql`select 1 from members where member_id = ${memberId}`)).length === 0) throw notFound("member");
    const link = await createBindingLink({ db: deps.db.db, clock: deps.clock, appSecret: deps.config.appSecret, liffId: deps.config.line.liffId, memberId });
    req.log.info({ memberId, expiresAt: link.expiresAt }, "binding link created");
    res.status(201).json(link);
  });
  mount(r, ops.getLineUser, async (req, res) => {
    const { userId } = parseOr400(ops.getLineUser.request.params, req.params, "params");
    const user = await getLineUser({ db: deps.db.db, userId });
    if (!user) throw notFound("LINE user");
    res.json(user);
  });
  return r;
}
