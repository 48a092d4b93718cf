import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** One registry per app, so tests can build many apps in one process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by method, route and status",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    webhookEvents: new Counter({
      name: "webhook_events_total",
      help: "LINE webhook events received, by type and whether they were new or duplicates",
      labelNames: ["type", "result"] as const,
      registers: [registry],
    }),
    webhookProcessed: new Counter({
      name: "webhook_events_processed_total",
      help: "LINE webhook events processed, by type and outcome",
      labelNames: ["type", "outcome"] as const,
      registers: [registry],
    }),
    webhookBatchFallbacks: new Counter({
      name: "webhook_batch_fallbacks_total",
      help: "Webhook processing batches redone one event per savepoint because the set-wise pass threw",
      registers: [registry],
    }),
    errors: new Counter({
      name: "errors_total",
      help: "Errors by code",
      labelNames: ["code"] as const,
      registers: [registry],
    }),
    notifications: new Counter({
      name: "notifications_transitions_total",
      help: "Notification state-machine transitions applied (docs/states.md), by transition, channel and resulting status",
      labelNames: ["transition", "channel", "state"] as const,
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: "webhook_deliveries_total",
      help: "Outgoing webhook attempts (status callbacks, LINE webhook forwards), by kind and outcome (delivered, retry, failed)",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
