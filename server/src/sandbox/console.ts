import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Database, sql } from "@oa-notify/db";
import express, { type RequestHandler, Router } from "express";
import helmet from "helmet";
import { z } from "zod";
import type { Config } from "../env.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { lineUserIdSchema } from "../lib/ids.ts";
import type { Logger } from "../lib/logger.ts";
import { serverSrcDir } from "../lib/paths.ts";
import { maskPhone } from "../lib/phone.ts";
import { parseOr400 } from "../lib/validate.ts";
import type { SimUser, SimUserInput, StartedLineEmulator } from "./emulator.ts";
import { renderInboxItem, renderSmsText } from "./render.ts";

export interface SandboxConsoleDeps {
  emulator: StartedLineEmulator;
  db: Database;
  config: Config;
  logger?: Logger;
}

const userIdParam = lineUserIdSchema;
const createBody = z
  .object({
    phone: z.string().max(40).optional(),
    displayName: z.string().max(60).optional(),
    friend: z.boolean().optional(),
    blocked: z.boolean().optional(),
    pnpConsent: z.enum(["yes", "no", "unset"]).optional(),
    lastSmsVerifiedAt: z.iso.datetime({ offset: true }).nullable().optional(),
  })
  .strict();
const patchBody = createBody.omit({ friend: true }).partial();
/** A console body as emulator input. On create an empty phone means "no phone"; on edit it clears the phone. */
function simUserInput(b: z.infer<typeof patchBody>, { emptyPhoneIsUnset }: { emptyPhoneIsUnset: boolean }): SimUserInput {
  return {
    ...(b.phone !== undefined && (b.phone || !emptyPhoneIsUnset) ? { phone: b.phone } : {}),
    ...(b.displayName ? { displayName: b.displayName } : {}),
    ...(b.blocked !== undefined ? { blocked: b.blocked } : {}),
    ...(b.pnpConsent ? { pnpConsent: b.pnpConsent } : {}),
    ...(b.lastSmsVerifiedAt !== undefined ? { lastSmsVerifiedAt: b.lastSmsVerifiedAt ? new Date(b.lastSmsVerifiedAt) : null } : {}),
  };
}
const textBody = z.object({ text: z.string().min(1).max(5000) }).strict();
const endpoint = z.enum(["push", "multicast", "pnp", "pnp_template", "followers", "*"]).optional();
const faultsBody = z
  .object({
    rateLimit: z
      .object({ endpoint, count: z.number().int().min(0).max(1_000_000), retryAfterSeconds: z.number().int().min(0).max(3600).optional() })
      .strict()
      .optional(),
    monthlyQuota: z.object({ endpoint, on: z.boolean() }).strict().optional(),
    serverError: z
      .object({ endpoint, count: z.number().int().min(0).max(1_000_000) })
      .strict()
      .optional(),
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    dropConnection: z
      .object({ endpoint, count: z.number().int().min(0).max(1_000_000), afterAccept: z.boolean().optional() })
      .strict()
      .optional(),
  })
  .strict();

/** The console page, its script and stylesheet (console/static/), read once: they change only with a deploy. */
function consoleFiles() {
  const dir = join(serverSrcDir, "sandbox", "console", "static");
  const read = (name: string) => readFileSync(join(dir, name), "utf8");
  return { html: read("index.html"), js: read("app.js"), css: read("app.css") };
}

/**
 * The sandbox console (`/sandbox`) and its JSON API (`/sandbox/api/*`): a developer plays the LINE users here.
 * Mounted only in sandbox mode; there is no LINE account behind it, so it needs no login (and the server listens on
 * 127.0.0.1 in sandbox mode unless HOST says otherwise, env.ts).
 *
 * The page is static files, like the operator dashboard (dashboard/router.ts): it renders messages that anyone
 * with the channel token can send, so the CSP allows nothing but our own script and stylesheet (no inline script or
 * style, no other origin), and the script only ever sets text.
 */
export function sandboxConsoleRouter(deps: SandboxConsoleDeps): Router {
  const { emulator, db, config } = deps;
  const r = Router();
  const files = consoleFiles();
  r.use(
    helmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"], // every form is handled by the script (fetch), none is ever submitted
        frameAncestors: ["'none'"],
      },
    }),
  );
  r.get(["/", "/index.html"], (_req, res) => {
    res.set("cache-control", "no-store").type("html").send(files.html);
  });
  r.get("/app.js", (_req, res) => {
    res.set("cache-control", "no-cache").type("text/javascript").send(files.js);
  });
  r.get("/app.css", (_req, res) => {
    res.set("cache-control", "no-cache").type("text/css").send(files.css);
  });

  const api = Router();
  api.use(express.json({ limit: "100kb" }));
  api.use(((_req, res, next) => {
    res.set("cache-control", "no-store");
    next();
  }) as RequestHandler);

  const mustUser = (id: unknown): SimUser => {
    const userId = parseOr400(userIdParam, id, "params.userId");
    const u = emulator.getUser(userId);
    if (!u) throw notFound("simulated user");
    return u;
  };
  const asBadRequest = (err: unknown): never => {
    throw new AppError("validation_failed", (err as Error).message);
  };

  /** What our product knows about these LINE users: friend state and bound members. */
  const productView = async (users: SimUser[]) => {
    const ids = users.map((u) => u.userId);
    const hashes = users.map((u) => u.phoneHash).filter((h): h is string => !!h);
    const friends = new Map<string, boolean>();
    const bound = new Map<string, string>();
    const byPhone = new Map<string, string[]>();
    if (ids.length) {
      const list = sql.join(
        ids.map((i) => sql`${i}`),
        sql`, `,
      );
      for (const row of await db.query<{ user_id: string; friend: boolean }>(sql`select user_id, friend from line_users where user_id in (${list})`)) {
        friends.set(row.user_id, row.friend);
      }
      for (const row of await db.query<{ member_id: string; line_user_id: string }>(
        sql`select member_id, line_user_id from members where line_user_id in (${list})`,
      )) {
        bound.set(row.line_user_id, row.member_id);
      }
    }
    if (hashes.length) {
      const list = sql.join(
        hashes.map((h) => sql`${h}`),
        sql`, `,
      );
      for (const row of await db.query<{ member_id: string; phone_hash: string }>(
        sql`select member_id, phone_hash from members where phone_hash in (${list})`,
      )) {
        byPhone.set(row.phone_hash, [...(byPhone.get(row.phone_hash) ?? []), row.member_id]);
      }
    }
    return users.map((u) => {
      const inbox = emulator.inbox(u.userId);
      return {
        ...u,
        lastSmsVerifiedAt: u.lastSmsVerifiedAt?.toISOString() ?? null,
        phoneMasked: maskPhone(u.phone),
        product: {
          known: friends.has(u.userId),
          friend: friends.get(u.userId) ?? false,
          boundMemberId: bound.get(u.userId) ?? null,
          phoneMemberIds: u.phoneHash ? (byPhone.get(u.phoneHash) ?? []) : [],
        },
        inboxCount: inbox.length,
        heldCount: inbox.filter((i) => i.status === "held").length,
        smsCount: u.phone ? emulator.smsInbox(u.phone).length : 0,
        liff: {
          settings: `/liff/settings?sandboxUser=${u.userId}`,
          bind: `/liff/bind?sandboxUser=${u.userId}`,
        },
      };
    });
  };

  api.get("/overview", async (_req, res) => {
    res.json({
      emulatorUrl: emulator.url,
      webhookUrl: emulator.webhookUrl() ?? null,
      liffId: config.line.liffId,
      channelSecret: config.line.channelSecret,
      apiKey: config.apiKeys[0] ?? null,
      faults: emulator.faults(),
    });
  });

  api.get("/users", async (_req, res) => {
    res.json({ users: await productView(emulator.listUsers()) });
  });

  api.post("/users", async (req, res) => {
    const b = parseOr400(createBody, req.body);
    let u: SimUser;
    try {
      u = emulator.createUser(simUserInput(b, { emptyPhoneIsUnset: true }));
    } catch (err) {
      return asBadRequest(err);
    }
    // A friend from the start has followed the account: tell our product the way LINE would, with a follow event.
    if (b.friend && !b.blocked) await emulator.follow(u.userId);
    res.status(201).json((await productView([emulator.getUser(u.userId)!]))[0]);
  });

  api.get("/users/:userId", async (req, res) => {
    const u = mustUser(req.params.userId);
    res.json((await productView([u]))[0]);
  });

  api.patch("/users/:userId", async (req, res) => {
    const u = mustUser(req.params.userId);
    const b = parseOr400(patchBody, req.body);
    try {
      emulator.updateUser(u.userId, simUserInput(b, { emptyPhoneIsUnset: false }));
    } catch (err) {
      return asBadRequest(err);
    }
    res.json((await productView([emulator.getUser(u.userId)!]))[0]);
  });

  const action = (name: string, run: (u: SimUser, body: any) => Promise<void>) =>
    api.post(`/users/:userId/${name}`, async (req, res) => {
      const u = mustUser(req.params.userId);
      await run(u, req.body);
      res.json((await productView([emulator.getUser(u.userId)!]))[0]);
    });
  action("follow", (u) => emulator.follow(u.userId));
  action("unblock", (u) => emulator.follow(u.userId, { isUnblocked: true }));
  action("unfollow", (u) => emulator.unfollow(u.userId));
  action("text", (u, body) => emulator.sendText(u.userId, parseOr400(textBody, body).text));
  action("consent", async (u) => {
    await emulator.consentNow(u.userId);
    await emulator.flushDeliveries();
  });
  action("verify", async (u) => {
    await emulator.verifyNow(u.userId);
    await emulator.flushDeliveries();
  });

  api.get("/users/:userId/inbox", (req, res) => {
    const u = mustUser(req.params.userId);
    const items = emulator.inbox(u.userId).map((i) => renderInboxItem(i, config.line.liffId, u.userId));
    res.json({ userId: u.userId, items: items.reverse() });
  });
  api.get("/users/:userId/sms", (req, res) => {
    const u = mustUser(req.params.userId);
    const list = u.phone ? emulator.smsInbox(u.phone) : [];
    res.json({ phone: u.phone, items: list.map((s) => ({ ...s, ...renderSmsText(s.text, config.line.liffId, u.userId) })).reverse() });
  });
  api.get("/users/:userId/id-token", async (req, res) => {
    const u = mustUser(req.params.userId);
    const idToken = await emulator.mintIdToken(u.userId);
    res.json({ idToken, userId: u.userId, displayName: u.displayName, friend: u.friend && !u.blocked });
  });

  /** Every number that got an SMS, with or without a LINE account (a number unknown to LINE still gets SMS). */
  api.get("/sms", (_req, res) => {
    const owners = new Map(
      emulator
        .listUsers()
        .filter((u) => u.phone)
        .map((u) => [u.phone!, u.userId]),
    );
    res.json({
      phones: emulator.smsPhones().map((phone) => ({
        phone,
        phoneMasked: maskPhone(phone),
        userId: owners.get(phone) ?? null,
        items: emulator
          .smsInbox(phone)
          .map((s) => ({ ...s, ...renderSmsText(s.text, config.line.liffId, owners.get(phone)) }))
          .reverse(),
      })),
    });
  });

  api.post("/deliver", async (_req, res) => {
    await emulator.flushDeliveries();
    res.json({ ok: true });
  });

  api.get("/webhooks", (_req, res) => {
    const log = emulator
      .webhookLog()
      .slice(-100)
      .reverse()
      .map((w) => {
        let events: { type: string; userId?: string; data?: string }[] = [];
        try {
          events = (JSON.parse(w.body) as { events: any[] }).events.map((e) => ({
            type: e.type,
            ...(e.source?.userId ? { userId: e.source.userId } : {}),
            ...(e.delivery?.data ? { data: e.delivery.data } : {}),
          }));
        } catch {
          /* logged verbatim below */
        }
        return { ...w, events };
      });
    res.json({ webhooks: log });
  });

  api.get("/requests", (_req, res) => {
    res.json({ requests: emulator.requests().slice(-100).reverse() });
  });

  api.get("/faults", (_req, res) => {
    res.json(emulator.faults());
  });
  api.put("/faults", (req, res) => {
    const f = parseOr400(faultsBody, req.body);
    emulator.setFaults(f as Parameters<StartedLineEmulator["setFaults"]>[0]);
    deps.logger?.info({ faults: f }, "sandbox faults set");
    res.json(emulator.faults());
  });
  api.delete("/faults", (_req, res) => {
    emulator.clearFaults();
    res.json(emulator.faults());
  });

  r.use("/api", api);
  return r;
}
