import { createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { systemClock } from "../../lib/clock.ts";
import { FaultInjector } from "./faults.ts";
import { createFollowers } from "./followers.ts";
import { AUTH_FAILED, badRequest, type Ctx, createRequestChecks, type Endpoint, type Handlers, HttpError, headerOf, type Result } from "./http.ts";
import { createLiff } from "./liff.ts";
import { createMessaging } from "./messaging.ts";
import { createPnp } from "./pnp.ts";
import { acceptedRates } from "./rates.ts";
import { EmulatorState, publicUser } from "./state.ts";
import type { LineEmulatorOptions, RequestRecord, StartedLineEmulator } from "./types.ts";
import { createWebhooksOut } from "./webhooks-out.ts";

export { lineStatsDay } from "./state.ts";
export type * from "./types.ts";

/*
 * A LINE Platform emulator (README.md, "Sandbox"): LINE's real paths at the root of its own port (the SDK drops
 * path prefixes), the behaviours the product depends on, and fault injection. One plain node:http handler, because
 * the notifier's benchmarks push thousands of requests a second through it; each LINE API area is a module of its
 * own (messaging, pnp, followers, liff, webhooks-out, faults) working on one EmulatorState (state.ts), and this one
 * dispatches by method and path.
 */

const MAX_BODY = 2 * 1024 * 1024; // LINE answers 413 above 2 MB

const ROUTES: Record<string, Endpoint> = {
  "POST /v2/bot/message/push": "push",
  "POST /v2/bot/message/multicast": "multicast",
  "POST /bot/pnp/push": "pnp",
  "POST /v2/bot/message/pnp/templated/push": "pnp_template",
  "GET /v2/bot/followers/ids": "followers",
  "GET /v2/bot/message/quota": "quota",
  "GET /v2/bot/message/quota/consumption": "quota",
  "GET /v2/bot/message/delivery/pnp": "stats",
  "GET /v2/bot/message/delivery/pnp/templated": "stats",
  "GET /v2/bot/message/delivery/push": "stats",
  "GET /oauth2/v2.1/certs": "jwks",
  "POST /oauth2/v2.1/verify": "verify",
};
/** LINE Login's endpoints take no channel access token */
const PUBLIC_ENDPOINTS = new Set<Endpoint>(["jwks", "verify"]);
/** the sends: their body must be a JSON object */
const SENDS = new Set<Endpoint>(["push", "multicast", "pnp", "pnp_template"]);
const PROFILE = /^\/v2\/bot\/profile\/([^/]+)$/;

function route(method: string, path: string): { ep: Endpoint; params: Record<string, string> } | null {
  const ep = ROUTES[`${method} ${path}`];
  if (ep) return { ep, params: {} };
  const m = method === "GET" ? PROFILE.exec(path) : null;
  if (m) return { ep: "profile", params: { userId: decodeURIComponent(m[1]!) } };
  return null;
}

export async function startLineEmulator(opts: LineEmulatorOptions): Promise<StartedLineEmulator> {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger;
  const botUserId = `U${createHmac("sha256", opts.channelSecret).update("bot").digest("hex").slice(0, 32)}`;

  const state = new EmulatorState(clock, opts.stateFile, log, opts.requestLogLimit);
  const checks = createRequestChecks(opts.validateRequests ?? true);
  const faults = new FaultInjector();
  const liff = await createLiff(state, { loginChannelId: opts.loginChannelId });
  const webhooks = createWebhooksOut(state, {
    channelSecret: opts.channelSecret,
    botUserId,
    webhookUrl: opts.webhookUrl,
    deliveryDelayMs: opts.deliveryDelayMs ?? 500,
    logger: log,
  });
  const pnp = createPnp({ state, checks, enqueueDelivery: webhooks.enqueueDelivery });
  const handlers: Handlers<Endpoint> = {
    ...createMessaging({ state, checks }),
    ...pnp.handlers,
    ...createFollowers({ state, checks, faults }),
    ...liff.handlers,
  };

  let inFlight = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    inFlight++;
    try {
      await handleRequest(req, res, raw);
    } finally {
      inFlight--;
    }
  };
  const handleRequest = async (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    const requestId = randomUUID();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? "" : url.slice(q + 1));
    const method = req.method ?? "GET";
    const retryKey = headerOf(req, "x-line-retry-key");
    const deliveryTag = headerOf(req, "x-line-delivery-tag");
    let body: unknown;
    const record = (status: number) =>
      state.recordRequest({
        at: clock.now().toISOString(),
        method,
        path,
        status,
        body,
        ...(retryKey !== undefined ? { retryKey } : {}),
        ...(deliveryTag !== undefined ? { deliveryTag } : {}),
      } satisfies RequestRecord);
    // Every response carries x-line-request-id, as LINE's do.
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record(status);
      const text = typeof payload === "string" ? payload : JSON.stringify(payload);
      res.writeHead(status, { "content-type": "application/json", "x-line-request-id": requestId, "content-length": Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const latency = faults.active.latencyMs;
    if (latency && latency > 0) await new Promise((r) => setTimeout(r, latency));

    const match = route(method, path);
    if (!match) return send(404, { message: "Not found" });
    const { ep } = match;
    if (!PUBLIC_ENDPOINTS.has(ep)) {
      const auth = req.headers.authorization;
      if (!auth || auth !== `Bearer ${opts.channelAccessToken}`) return send(401, { message: AUTH_FAILED });
    }
    if (raw.length > 0) {
      const ct = req.headers["content-type"] ?? "";
      if (ep === "verify") body = raw.toString("utf8");
      else if (ct.includes("json") || ct === "") {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          return send(400, { message: "The request body has 1 error(s)", details: [{ message: "Invalid JSON", property: "" }] });
        }
      } else return send(415, { message: "Unsupported Media Type" });
    }

    const fault = faults.onRequest(ep);
    if (fault?.kind === "drop") {
      // A dropped connection: the client sees no answer at all (logged with status 0).
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "answer") return send(fault.status, fault.body, fault.headers);

    const ctx: Ctx = {
      req,
      body,
      query,
      requestId,
      params: match.params,
      ...(retryKey !== undefined ? { retryKey } : {}),
      ...(deliveryTag !== undefined ? { deliveryTag } : {}),
    };
    let result: Result;
    try {
      if (SENDS.has(ep) && (body === undefined || body === null || typeof body !== "object")) {
        throw badRequest([{ message: "Must be a JSON object", property: "" }]);
      }
      // LINE accepts X-Line-Retry-Key on push/multicast/narrowcast/broadcast only; anywhere else it is a 400.
      if (ep !== "push" && ep !== "multicast" && !PUBLIC_ENDPOINTS.has(ep)) checks.noRetryKey(ctx);
      result = await handlers[ep](ctx);
    } catch (err) {
      if (err instanceof HttpError) return send(err.status, err.body, err.headers);
      log?.error({ err, path }, "sandbox emulator handler failed");
      return send(500, { message: "Internal Server Error" });
    }
    // The ambiguous timeout: accepted (and delivered) on our side, but the client never hears back.
    if (fault?.kind === "drop_after_accept") {
      record(0);
      req.socket.destroy();
      return;
    }
    send(result.status, result.body, result.headers);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on("end", () => {
      if (tooBig) {
        res.writeHead(413, { "content-type": "application/json", "x-line-request-id": randomUUID() });
        res.end(JSON.stringify({ message: "Request Entity Too Large" }));
        return;
      }
      handle(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).catch((err) => {
        log?.error({ err }, "sandbox emulator failed");
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json", "x-line-request-id": randomUUID() });
          res.end(JSON.stringify({ message: "Internal Server Error" }));
        }
      });
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  const host = opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  return {
    url,
    botUserId,
    async close() {
      pnp.close();
      await webhooks.close();
      if (opts.stateFile) state.save();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    createUser: (input = {}) => state.createUser(input),
    updateUser: (userId, patch) => state.updateUser(userId, patch),
    getUser(userId) {
      const u = state.users.get(userId);
      return u ? publicUser(u) : undefined;
    },
    listUsers: () => [...state.users.values()].map(publicUser),
    follow: webhooks.follow,
    unfollow: webhooks.unfollow,
    sendText: webhooks.sendText,
    consentNow: async (userId) => pnp.consentNow(userId),
    verifyNow: async (userId) => pnp.verifyNow(userId),
    inbox(userId) {
      pnp.settleHolds(userId);
      return [...(state.inboxes.get(userId) ?? [])];
    },
    requests: () => [...state.requestLog],
    accepted: () => [...state.acceptedLog],
    acceptedRates: () => acceptedRates(state.acceptedLog),
    setFaults: (f) => faults.set(f),
    clearFaults: () => faults.clear(),
    faults: () => faults.snapshot(),
    flushDeliveries: webhooks.flushDeliveries,
    mintIdToken: liff.mintIdToken,
    webhookLog: () => [...state.webhookLog],
    recordSms: (m) => state.recordSms(m),
    smsInbox: (phoneE164) => [...(state.sms.get(phoneE164) ?? [])],
    smsPhones: () => state.smsPhones(),
    setWebhookUrl: webhooks.setWebhookUrl,
    webhookUrl: webhooks.webhookUrl,
    save: state.save,
    inFlight: () => inFlight,
  };
}
