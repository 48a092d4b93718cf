import { type Database, sql } from "@oa-notify/db";
import type { Config } from "../env.ts";

/**
 * Writes the configured webhook endpoints (STATUS_WEBHOOK_URL, WEBHOOK_FORWARD_URLS) into `webhook_endpoints`, and
 * deactivates the ones no longer configured (their pending rows wait, listed, until the URL comes back). Run at
 * start-up by the server and `pnpm worker` before anything is sent: the transitions' outbox insert joins the active
 * `status` endpoint, so the database itself knows whether a callback row is to be written.
 */
export async function syncWebhookEndpoints(db: Database, config: Pick<Config, "webhooks">): Promise<void> {
  const want = [
    ...(config.webhooks.statusUrl ? [{ kind: "status", url: config.webhooks.statusUrl }] : []),
    ...config.webhooks.forwardUrls.map((url) => ({ kind: "forward", url })),
  ];
  const list = JSON.stringify(want);
  await db.query(sql`
    with w as (select * from json_to_recordset(${list}::json) as w(kind text, url text)),
    up as (
      insert into webhook_endpoints (kind, url, active) select kind, url, true from w
      on conflict (kind, url) do update set active = true where not webhook_endpoints.active
    )
    update webhook_endpoints e set active = false
    where e.active and not exists (select 1 from w where w.kind = e.kind and w.url = e.url)`);
}
