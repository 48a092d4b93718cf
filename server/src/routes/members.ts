import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../app.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { parseOr400 } from "../lib/validate.ts";
import { getMember, upsertMember } from "../domain/members.ts";
import { getLineUser } from "../domain/line-users.ts";
import { lineUserIdSchema } from "../lib/line-ids.ts";

export const idParam = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, "letters, digits and . _ : @ - only");
const memberBody = z.object({ phone: z.string().min(1).max(40), name: z.string().max(100).optional() }).strict();
const lineUserIdParam = lineUserIdSchema;

export function membersRouter(deps: AppDeps): Router {
  const r = Router();
  r.put("/members/:memberId", async (req, res) => {
    const memberId = parseOr400(idParam, req.params.memberId, "params.memberId");
    const input = parseOr400(memberBody, req.body);
    const { member, created } = await upsertMember({ db: deps.db.db, clock: deps.clock, memberId, input });
    req.log.info({ memberId, phoneLast3: member.phone?.slice(-3), created }, "member upserted");
    res.status(created ? 201 : 200).json(member);
  });
  r.get("/members/:memberId", async (req, res) => {
    const memberId = parseOr400(idParam, req.params.memberId, "params.memberId");
    const member = await getMember({ db: deps.db.db, memberId });
    if (!member) throw notFound("member");
    res.json({ memberId: member.memberId, phone: member.phone, name: member.name, lineUserId: member.lineUserId, friend: member.friend, boundAt: member.boundAt });
  });
  r.get("/line-users/:userId", async (req, res) => {
    const userId = parseOr400(lineUserIdParam, req.params.userId, "params.userId");
    const user = await getLineUser({ db: deps.db.db, userId });
    if (!user) throw notFound("LINE user");
    res.json(user);
  });
  return r;
}

export { AppError };
