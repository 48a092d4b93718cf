import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import helmet from "helmet";
import { pinoHttp } from "pino-http";
import { apiDocsRouter, openApiRouter } from "./contract/router.ts";
import { audienceRouter } from "./dashboard/audience.ts";
import { failuresRouter } from "./dashboard/failures.ts";
import { dashboardRouter } from "./dashboard/router.ts";
import { seriesRouter } from "./dashboard/series.ts";
import { statementRouter } from "./dashboard/statement.ts";
import { statsRouter } from "./dashboard/stats.ts";
import type { AppDeps } from "./deps.ts";
import { type ApiKeyScope, createApiKeyMatcher, requireScope } from "./lib/api-keys.ts";
import { AppError, fromHttpError } from "./lib/errors.ts";
import { safeError } from "./lib/logger.ts";
import { createMetrics, type Metrics } from "./lib/metrics.ts";
import { storableBody, storableQuery } from "./lib/validate.ts";
import { recordsRouter } from "./liff/records.ts";
import { liffApiRouter, liffConfigHandler } from "./liff/router.ts";
import { liffStaticRouter } from "./liff/static.ts";
import { membersRouter } from "./members/router.ts";
import { notificationsBatchRouter } from "./notify/batch.ts";
import { deliveryEventHandler } from "./notify/delivery.ts";
import { notificationsRouter } from "./notify/router.ts";
import { scenariosRouter } from "./notify/scenarios.ts";
import { shortLinkRouter } from "./notify/short-link.ts";
import { webhookDeliveriesRouter } from "./outbox/router.ts";
import type { EventHandler } from "./webhook/handlers.ts";
import { InboxWriter } from "./webhook/inbox.ts";
import { WebhookProcessor } from "./webhook/processor.ts";
import { createWebhookHandler, isWebhookRequest } from "./webhook/route.ts";

/** Background parts the app owns; main.ts starts and stops them, tests await them. */
export interface AppServices {
  metrics: Metrics;
  inbox: InboxWriter;
  processor: WebhookProcessor;
}

/**
 * The app is a plain node request listener: `POST /webhook` goes to the webhook handler (raw bytes, no express; see
 * webhook/route.ts and docs/decisions/0001-webhook-outside-express.md), everything else to the express app.
 * `http.createServer(app)` and supertest take it as they take an express app.
 */
export type App = ((req: IncomingMessage, res: ServerResponse) => void) & { services: AppServices; express: Express };

declare global {
  // biome-ignore lint/suspicious/noRedeclare: augments express's global Express namespace (declaration merging), not a second binding.
  namespace Express {
    interface Request {
      apiKeyId?: string;
      /** "read" for an API_KEYS_READONLY key: GET/HEAD only (lib/api-keys.ts requireScope) */
      apiKeyScope?: ApiKeyScope;
    }
  }
}

export function createApp(deps: AppDeps): App {
  const metrics = deps.metrics ?? createMetrics();
  const app = express();
  app.disable("x-powered-by");
  // Who may set X-Forwarded-For: the per-IP limits and the logs trust it (TRUST_PROXY, docs/configuration.md).
  app.set("trust proxy", deps.config.trustProxy);

  const eventHandlers: Partial<Record<string, EventHandler>> = {};
  eventHandlers.delivery = deliveryEventHandler;
  const inbox = new InboxWriter(deps.db, { forward: deps.config.webhooks.forwardUrls.length > 0, now: () => deps.clock.now() });
  const processor = new WebhookProcessor(deps.db, deps.logger, metrics, eventHandlers);
  const services: AppServices = { metrics, inbox, processor };
  const webhook = createWebhookHandler({ channelSecret: deps.config.line.channelSecret, inbox, processor, metrics, logger: deps.logger });

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
        res.setHeader("x-request-id", id);
        return id;
      },
      // Per-request lines at debug: the webhook sees thousands a second; errors are logged by the error handler.
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "debug"),
      // LIFF links carry bearer-like tokens in the query (?t= view token, ?token= binding link): never logged.
      // So does the SMS short link's path (/n/<code>; express routes /N/ too), and a redirect's Location (res: status only).
      serializers: {
        req: (req) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(String(req.url ?? "")),
        }),
        res: (res) => ({ statusCode: res.statusCode }),
        err: safeError,
      },
    }),
  );
  app.use(((req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.on("finish", () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : res.statusCode === 404 ? "unmatched" : req.baseUrl || "other";
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  }) as RequestHandler);
  app.use(helmet({ contentSecurityPolicy: false }));
  // A query string PostgreSQL could not store (NUL, unpaired surrogates) is refused before any route sees it.
  app.use(storableQuery);

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    try {
      await deps.db.ping();
      res.json({ status: "ready", database: deps.db.kind });
    } catch {
      res.status(503).json({ error: { code: "unavailable", message: "database unreachable" } });
    }
  });
  app.get("/metrics", metricsGuard(deps.config), async (_req, res) => {
    res.set("content-type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const matchKey = createApiKeyMatcher(deps.config.apiKeys, deps.config.apiKeysReadonly);
  const requireApiKey: RequestHandler = (req, _res, next) => {
    const header = req.get("authorization");
    const m = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    const key = matchKey(m?.[1]?.trim());
    if (!key) return next(new AppError("unauthorized", "missing or invalid API key (Authorization: Bearer <key>)"));
    req.apiKeyId = key.id;
    req.apiKeyScope = key.scope;
    req.log = req.log.child({ apiKeyId: key.id, ...(key.scope === "read" ? { scope: "read" } : {}) });
    next();
  };
  const api = express.Router();
  // The contract is public (a client generator fetches it as is); everything after it needs a key of the right scope.
  api.use(openApiRouter());
  api.use(requireApiKey, requireScope);
  // The batch endpoint streams its own (large) body, so it sits before the JSON parser.
  api.use(notificationsBatchRouter(deps));
  api.use(express.json({ limit: "1mb" }), storableBody);
  api.use(notificationsRouter(deps));
  api.use(statsRouter(deps), seriesRouter(deps), statementRouter(deps), failuresRouter(deps), audienceRouter(deps));
  api.use(membersRouter(deps));
  api.use(scenariosRouter(deps));
  api.use(recordsRouter(deps));
  api.use(webhookDeliveriesRouter(deps));
  app.use("/api/v1", api);

  // The surfaces customers' phones reach without an API key get a per-IP limit (in memory, per process): enough to
  // blunt scraping and token guessing, generous because mobile carriers put many users behind one address.
  const publicLimit = rateLimit({
    windowMs: 60_000,
    limit: deps.config.publicRateLimitPerMinute,
    standardHeaders: "draft-6",
    legacyHeaders: false,
    handler: (_req, res, next) =>
      next(
        new AppError("rate_limited", "too many requests; try again in a minute", undefined, {
          "Retry-After": String(Math.ceil(Number(res.getHeader("RateLimit-Reset") ?? 60)) || 60),
        }),
      ),
  });

  // LIFF: config (no auth), the app's API (LIFF ID token; its own JSON parser), the built app with SPA fallback.
  app.get("/liff-config", liffConfigHandler(deps));
  app.use("/liff-api", publicLimit, liffApiRouter(deps));
  app.use("/liff", liffStaticRouter());
  // The SMS short link (no auth: the code is the credential).
  app.use("/n", publicLimit);
  app.use(shortLinkRouter(deps));

  // Operator dashboard: a static page; its data comes from /api/v1 with the key the operator types.
  app.use("/dashboard", dashboardRouter());
  app.use("/api/docs", apiDocsRouter());
  if (deps.sandboxConsole) app.use("/sandbox", deps.sandboxConsole);

  app.use((req, _res, next) => next(new AppError("not_found", `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(metrics));

  const listener = (req: IncomingMessage, res: ServerResponse) => (isWebhookRequest(req) ? webhook(req, res) : app(req, res));
  return Object.assign(listener, { services, express: app });
}

/** `/n/<code>` (any case: express routes are case-insensitive) and `?t=` / `?token=` never reach a log. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:t|token)=)[^&#]*/gi, "$1[redacted]").replace(/^\/n\/[^/?#]+/i, "/n/[redacted]");
}

/**
 * GET /metrics is not for the public port's callers (docs/operations.md): with METRICS_TOKEN it needs that bearer
 * token; without one it is served in sandbox mode only, and is a plain 404 otherwise.
 */
function metricsGuard(config: AppDeps["config"]): RequestHandler {
  const want = config.metricsToken ? createHash("sha256").update(config.metricsToken).digest() : null;
  return (req, _res, next) => {
    if (!want) return next(config.sandbox ? undefined : new AppError("not_found", `no route for ${req.method} ${req.path}`));
    const m = /^Bearer\s+(\S+)$/i.exec(req.get("authorization") ?? "");
    const got = createHash("sha256")
      .update(m?.[1] ?? "")
      .digest();
    if (!m || !timingSafeEqual(got, want)) return next(new AppError("unauthorized", "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"));
    next();
  };
}

function errorHandler(metrics: Metrics): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (req.socket?.destroyed && (err?.type === "request.aborted" || err?.code === "ECONNRESET" || err?.code === "ECONNABORTED")) {
      // The client went away: nobody reads an answer, and it is no error of ours.
      req.log?.info({ reason: err?.type ?? err?.code }, "client closed the request");
      metrics.errors.inc({ code: "client_closed" });
      return;
    }
    let e: AppError;
    if (err instanceof AppError) e = err;
    else {
      // A client's mistake found by a library (body parser, zlib, the router's percent-decoding) is a 4xx.
      const mapped = fromHttpError(err);
      if (mapped) e = mapped;
      else {
        req.log?.error({ err }, "unhandled error");
        e = new AppError("internal", "internal error");
      }
    }
    metrics.errors.inc({ code: e.code });
    if (e.status >= 500) req.log?.error({ code: e.code }, e.message);
    if (e.headers) res.set(e.headers);
    if (res.headersSent) return;
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } });
  };
}
