import { randomUUID } from "node:crypto";
import { sql, type SQL } from "@oa-notify/db";
import { isMonthlyLimit, pushMessage, pushPnpMessages, pushPnpTemplate, type LineCallResult } from "../lib/line/calls.ts";
import { SmsRejectedError, SmsRetryableError } from "../lib/sms/types.ts";
import { applyDelivery, deliveryTagFor } from "./delivery.ts";
import { GroupWriter } from "./group-writer.ts";
import { PNP_WINDOW_SECONDS } from "./input.ts";
import { lineMessages, smsText, type NextStep, type RenderConfig, type StoredContent } from "./render.ts";
import type { AppDeps } from "../deps.ts";
import { decideRoute, smsAllowed, type Channel, type RouteDecision } from "./route.ts";
import { TokenBucket } from "./token-bucket.ts";

/** The app's dependencies, less what only the HTTP side uses. */
export type NotifyWorkerDeps = Omit<AppDeps, "sandboxConsole">;
export interface NotifyWorkerOptions {
  concurrency?: number;
  ratePerSecond?: number;
  /** A claimed row is invisible to other workers this long; a crashed worker's rows come back after it. */
  leaseSeconds?: number;
  pollMs?: number;
  maxAttempts?: number;
  callTimeoutMs?: number;
  claimBatch?: number;
  /** Longest real-time pause of an endpoint's sending after a rate-limit 429 with Retry-After (0 = only delay the row). */
  maxRatePauseMs?: number;
}

interface Row {
  id: string;
  status: string;
  channel: Channel | null;
  route: RouteDecision | null;
  member_id: string | null;
  phone_e164: string | null;
  phone_hash: string | null;
  line_user_id: string | null;
  content: StoredContent;
  next_step: NextStep | null;
  sms: { text?: string; afterSeconds?: number } | null;
  attempts: number;
  retry_key: string | null;
  pnp_call_started_at: Date | null;
  sms_deadline_at: Date | null;
  sms_call_started_at: Date | null;
  sms_sent_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  seen_at: Date | null;
  created_at: Date;
  member_found: boolean;
  m_line_user_id: string | null;
  m_friend: boolean;
}
interface PreparedPnp {
  kind: "pnp" | "pnp_template";
  tag: string;
  template: StoredContent["template"];
  messages: Awaited<ReturnType<typeof lineMessages>> | null;
}
interface Ev {
  state: string;
  detail?: Record<string, unknown>;
}

const DATE_COLS = ["pnp_call_started_at", "sms_deadline_at", "sms_call_started_at", "sms_sent_at", "sent_at", "delivered_at", "seen_at", "created_at"] as const;
const iso = (d: Date) => d.toISOString();

/**
 * The dispatcher. The notification row is the job: a worker claims due rows (`due_at <= now`) with
 * FOR UPDATE SKIP LOCKED in one short statement that also pushes `due_at` out by a lease, then works on them
 * outside any transaction. Every step writes its outcome (and the next `due_at`) in one statement with its timeline
 * entries. Exactly-once toward LINE rests on what is committed BEFORE each call:
 * - push: the `X-Line-Retry-Key` (made once, reused on every retry; a 409 means an earlier attempt was accepted);
 * - PNP: `pnp_call_started_at`; a row claimed with that marker and no outcome is never called again (ambiguous →
 *   wait for the `delivery` event, then the SMS deadline);
 * - SMS: `sms_call_started_at`, with the notification id as the provider reference.
 * Several workers (processes, machines) may run against one PostgreSQL.
 */
export class NotifyWorker {
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly callTimeoutMs: number;
  private readonly claimBatch: number;
  private readonly maxRatePauseMs: number;
  private readonly buckets: Record<"push" | "pnp" | "pnp_template", TokenBucket>;
  private readonly render: RenderConfig;
  private readonly inflight = new Set<Promise<void>>();
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  /** Sends made by this worker, by kind (benchmarks and logs). */
  readonly counts = { push: 0, pnp: 0, pnp_template: 0, sms: 0 };
  // Hot-path writes, group-committed (see GroupWriter): one statement per group of rows, each row answered after
  // the commit that holds its write.
  private readonly queuedW: GroupWriter<
    {
      id: string;
      at: string;
      channel: string;
      route: RouteDecision;
      line_user_id: string | null;
      sms_deadline_at: string | null;
      detail: unknown;
      retry_key: string | null;
      tag: string | null;
      marker_at: string | null;
    },
    { ok: boolean; retryKey: string | null }
  >;
  private readonly retryKeyW: GroupWriter<{ id: string; key: string }, string | null>;
  private readonly pushDoneW: GroupWriter<{ id: string; at: string; sent: unknown; delivered: unknown }, boolean>;
  private readonly markerW: GroupWriter<{ id: string; at: string; tag: string }, boolean>;
  private readonly pnpSentW: GroupWriter<{ id: string; at: string; due_at: string; tag: string; detail: unknown }, boolean>;

  constructor(
    private readonly deps: NotifyWorkerDeps,
    opts: NotifyWorkerOptions = {},
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? deps.config.workerConcurrency);
    const rate = opts.ratePerSecond ?? deps.config.sendRatePerSecond;
    this.buckets = { push: new TokenBucket(rate), pnp: new TokenBucket(rate), pnp_template: new TokenBucket(rate) };
    this.leaseMs = (opts.leaseSeconds ?? 120) * 1000;
    this.pollMs = opts.pollMs ?? 250;
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.claimBatch = opts.claimBatch ?? Math.max(10, this.concurrency);
    this.maxRatePauseMs = opts.maxRatePauseMs ?? 60_000;
    this.render = { appSecret: deps.config.appSecret, liffId: deps.config.line.liffId, publicBaseUrl: deps.config.publicBaseUrl };
    const q = deps.db;
    const ids = (rows: { id: string }[]) => new Set(rows.map((r) => r.id));
    // The route decision, and for the first LINE attempt what must be committed before the call: the push retry
    // key, or the PNP sent-marker (then the call follows at once; the rate token was taken before this write).
    this.queuedW = new GroupWriter(async (items) => {
      const rows = await q.query<{ id: string; retry_key: string | null }>(sql`
        with x as (
          select * from json_to_recordset(${JSON.stringify(items)}::json)
            as x(id uuid, at timestamptz, channel text, route jsonb, line_user_id text, sms_deadline_at timestamptz, detail jsonb,
                 retry_key uuid, tag text, marker_at timestamptz)
        ), upd as (
          update notifications n set status = 'queued', channel = x.channel, route = x.route, line_user_id = x.line_user_id,
            sms_deadline_at = x.sms_deadline_at, updated_at = x.at, retry_key = coalesce(n.retry_key, x.retry_key),
            delivery_tag = coalesce(x.tag, n.delivery_tag), pnp_call_started_at = coalesce(x.marker_at, n.pnp_call_started_at)
          from x where n.id = x.id and n.status = 'accepted' returning n.id, n.retry_key
        ), ev as (
          insert into notification_events (notification_id, at, state, detail)
          select x.id, x.at, 'queued', x.detail from x where x.id in (select id from upd)
        )
        select id::text as id, retry_key::text as retry_key from upd`);
      const byId = new Map(rows.map((r) => [r.id, r.retry_key]));
      return items.map((i) => ({ ok: byId.has(i.id), retryKey: byId.get(i.id) ?? null }));
    });
    // Only while still queued: a notification cancelled since the claim gets no key, hence no push (null).
    this.retryKeyW = new GroupWriter(async (items) => {
      const rows = await q.query<{ id: string; retry_key: string }>(sql`
        update notifications n set retry_key = coalesce(n.retry_key, x.key)
        from json_to_recordset(${JSON.stringify(items)}::json) as x(id uuid, key uuid)
        where n.id = x.id and n.status = 'queued' returning n.id::text as id, n.retry_key::text as retry_key`);
      const byId = new Map(rows.map((r) => [r.id, r.retry_key]));
      return items.map((i) => byId.get(i.id) ?? null);
    });
    this.pushDoneW = new GroupWriter(async (items) => {
      const done = ids(
        await q.query<{ id: string }>(sql`
          with x as (
            select * from json_to_recordset(${JSON.stringify(items)}::json) as x(id uuid, at timestamptz, sent jsonb, delivered jsonb)
          ), upd as (
            update notifications n set status = 'delivered', sent_at = x.at, delivered_at = x.at, due_at = null,
              attempts = n.attempts + 1, last_error = null, updated_at = x.at
            from x where n.id = x.id and n.status = 'queued' returning n.id
          ), ev as (
            insert into notification_events (notification_id, at, state, detail)
            select x.id, x.at, v.state, v.detail from x cross join lateral (values (1, 'sent', x.sent), (2, 'delivered', x.delivered)) as v(ord, state, detail)
            where x.id in (select id from upd) order by x.id, v.ord
          )
          select id::text as id from upd`),
      );
      return items.map((i) => done.has(i.id));
    });
    this.markerW = new GroupWriter(async (items) => {
      const done = ids(
        await q.query<{ id: string }>(sql`
          update notifications n set delivery_tag = x.tag, pnp_call_started_at = x.at, updated_at = x.at
          from json_to_recordset(${JSON.stringify(items)}::json) as x(id uuid, at timestamptz, tag text)
          where n.id = x.id and n.pnp_call_started_at is null and n.status = 'queued'
          returning n.id::text as id`),
      );
      return items.map((i) => done.has(i.id));
    });
    this.pnpSentW = new GroupWriter(async (items) => {
      const done = ids(
        await q.query<{ id: string }>(sql`
          with x as (
            select * from json_to_recordset(${JSON.stringify(items)}::json) as x(id uuid, at timestamptz, due_at timestamptz, tag text, detail jsonb)
          ), upd as (
            update notifications n set status = case when n.delivered_at is null and n.status = 'queued' then 'sent' else n.status end,
              sent_at = x.at, attempts = n.attempts + 1, last_error = null, updated_at = x.at,
              due_at = case when n.delivered_at is null then x.due_at else null end
            from x where n.id = x.id returning n.id
          ), ev as (
            insert into notification_events (notification_id, at, state, detail)
            select x.id, x.at, 'sent', x.detail from x where x.id in (select id from upd)
          )
          select id::text as id from upd`),
      );
      // A delivery event stored before this outcome was recorded is matched now (contract: CONTRACTS.md §4).
      const early = await q.query<{ tag: string; at: Date | string }>(sql`
        select distinct on (event->'delivery'->>'data') event->'delivery'->>'data' as tag, coalesce(event_timestamp, received_at) as at
        from webhook_events
        where type = 'delivery' and (event->'delivery'->>'data') in (select value from json_array_elements_text(${JSON.stringify(items.map((i) => i.tag))}::json))`);
      for (const e of early) await applyDelivery(q.db, e.tag, new Date(e.at), { matched: "from_inbox_after_send" });
      return items.map((i) => done.has(i.id));
    });
  }

  // ---------------------------------------------------------------- running

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops claiming, waits for in-flight sends to record their outcome. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.inflight]);
  }

  /** New work may be due (a request was just accepted in this process). */
  kick(): void {
    this.wake?.();
  }

  /** Processes everything due at the clock's now, until nothing is (tests move a ManualClock between calls). */
  async runUntilIdle(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.claim(this.claimBatch);
      if (rows.length === 0) return total;
      total += rows.length;
      let next = 0;
      const lane = async () => {
        while (next < rows.length) await this.process(rows[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, rows.length) }, lane));
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const free = this.concurrency - this.inflight.size;
      if (free > 0 && (this.inflight.size === 0 || free >= Math.max(1, Math.floor(this.concurrency / 4)))) {
        let rows: Row[] = [];
        try {
          rows = await this.claim(Math.min(free, this.claimBatch));
        } catch (err) {
          this.deps.logger.error({ err }, "notify worker: claim failed");
        }
        for (const r of rows) {
          const p: Promise<void> = this.process(r).finally(() => {
            this.inflight.delete(p);
            this.wake?.();
          });
          this.inflight.add(p);
        }
        if (rows.length > 0 && this.inflight.size < this.concurrency) continue;
        if (rows.length > 0) {
          await this.sleep(this.pollMs);
          continue;
        }
      }
      await this.sleep(this.pollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async claim(limit: number): Promise<Row[]> {
    const now = this.deps.clock.now();
    const lease = new Date(now.getTime() + this.leaseMs);
    const rows = await this.deps.db.query<Row>(sql`
      with due as (
        select id from notifications where due_at <= ${iso(now)}::timestamptz
        order by due_at limit ${limit} for update skip locked
      ), claimed as (
        update notifications n set due_at = ${iso(lease)}::timestamptz from due where n.id = due.id returning n.*
      )
      select c.*, (m.member_id is not null) as member_found, m.line_user_id as m_line_user_id, coalesce(lu.friend, false) as m_friend
      from claimed c left join members m on m.member_id = c.member_id left join line_users lu on lu.user_id = m.line_user_id`);
    for (const r of rows) for (const k of DATE_COLS) if (r[k] !== null && !(r[k] instanceof Date)) (r as unknown as Record<string, unknown>)[k] = new Date(r[k] as unknown as string);
    return rows;
  }

  // ---------------------------------------------------------------- state machine

  private async process(row: Row): Promise<void> {
    try {
      let r: Row | null = row;
      if (r.status === "accepted") {
        const d = await this.decide(r);
        if (!d) return;
        // First attempt, prepared in the decision's write: straight to the call.
        if (d.push) return await this.sendPush(d.row, d.push);
        if (d.pnp) return await this.sendPnp(d.row, d.pnp);
        if (d.parallelPush) await this.sendParallelPush(d.row, d.parallelPush.key);
        r = d.row;
      }
      switch (r.status) {
        case "queued":
          if (r.channel === "push") return await this.sendPush(r);
          if (r.channel === "pnp") return await this.sendPnp(r);
          if (r.channel === "sms") return await this.sendSms(r, false);
          return await this.finish(r, "undeliverable", { reason: "no channel" });
        case "sent":
          return await this.checkWaiting(r);
        case "fallback_sms":
          return await this.sendSms(r, true);
        default:
          // Terminal or settled elsewhere (a delivery event): nothing left to do.
          await this.apply(r.id, sql`due_at = null`, []);
      }
    } catch (err) {
      this.deps.logger.error({ err, notificationId: row.id }, "notify worker: step failed; retrying later");
      const at = new Date(this.now().getTime() + 30_000);
      await this.apply(row.id, sql`due_at = ${iso(at)}::timestamptz, last_error = ${String(err instanceof Error ? err.message : err).slice(0, 500)}`, []).catch(() => {});
    }
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  /** One statement: the row's update (when `guard` holds) and its timeline entries. */
  private async apply(id: string, set: SQL, events: Ev[], guard: SQL = sql`true`): Promise<boolean> {
    const now = iso(this.now());
    if (events.length === 0) {
      const rows = await this.deps.db.query(sql`update notifications set ${set}, updated_at = ${now}::timestamptz where id = ${id} and (${guard}) returning id`);
      return rows.length > 0;
    }
    const values = sql.join(
      events.map((e, i) => sql`(${i}::int, ${e.state}::text, ${JSON.stringify(e.detail ?? null)}::jsonb)`),
      sql`, `,
    );
    const rows = await this.deps.db.query(sql`
      with upd as (update notifications set ${set}, updated_at = ${now}::timestamptz where id = ${id} and (${guard}) returning id)
      insert into notification_events (notification_id, at, state, detail)
      select upd.id, ${now}::timestamptz, v.state, v.detail from upd cross join (values ${values}) as v(ord, state, detail) order by v.ord
      returning notification_id`);
    if (rows.length > 0) for (const e of events) this.metric(String(e.detail?.["channel"] ?? "any"), e.state);
    return rows.length > 0;
  }

  private metric(channel: string, state: string): void {
    this.deps.metrics?.notifications.inc({ channel, state });
  }

  private async finish(r: Row, state: "undeliverable" | "failed", detail: Record<string, unknown>): Promise<void> {
    await this.apply(r.id, sql`status = ${state}, due_at = null, last_error = ${String(detail["reason"] ?? state)}`, [{ state, detail }], sql`status <> 'cancelled'`);
  }

  /** The route decision at send time (product.md §4), with the friend state as it is now. */
  private async decide(r: Row): Promise<{ row: Row; push?: { key: string }; pnp?: PreparedPnp; parallelPush?: { key: string } } | null> {
    const prev = r.route?.inputs;
    if (!prev) {
      await this.finish(r, "failed", { reason: "no route inputs stored" });
      return null;
    }
    const lineUserId = r.m_line_user_id;
    const inputs = { ...prev, lineUserId, friend: Boolean(lineUserId && r.m_friend), memberFound: r.member_found || prev.memberFound };
    const now = this.now();
    const route = decideRoute(inputs, now, "dispatch");
    if (route.channel === "none") {
      await this.apply(
        r.id,
        sql`status = 'undeliverable', channel = 'none', route = ${JSON.stringify(route)}::jsonb, due_at = null`,
        [{ state: "undeliverable", detail: { rule: route.rule, reason: route.reason } }],
        sql`status = 'accepted'`,
      );
      return null;
    }
    const deadline = route.smsAfterSeconds === null ? null : new Date(now.getTime() + route.smsAfterSeconds * 1000);
    let pnp: PreparedPnp | undefined;
    let retryKey: string | null = null;
    if (route.channel === "push" || route.parallelPush) {
      retryKey = randomUUID();
      await this.buckets.push.take();
    } else if (route.channel === "pnp") {
      pnp = await this.preparePnp({ ...r, route });
      await this.buckets[pnp.kind].take();
    }
    const res = await this.queuedW.submit({
      id: r.id,
      at: iso(now),
      channel: route.channel,
      route,
      line_user_id: lineUserId,
      sms_deadline_at: deadline ? iso(deadline) : null,
      detail: { channel: route.channel, rule: route.rule, smsDeadlineAt: deadline ? iso(deadline) : null },
      retry_key: retryKey,
      tag: pnp?.tag ?? null,
      marker_at: pnp ? iso(this.now()) : null,
    });
    if (!res.ok) return null;
    this.metric(route.channel, "queued");
    const row: Row = { ...r, status: "queued", channel: route.channel, route, line_user_id: lineUserId, sms_deadline_at: deadline, retry_key: res.retryKey };
    if (route.channel === "push") return { row, push: { key: res.retryKey! } };
    if (pnp) return { row, pnp };
    if (route.parallelPush) return { row, parallelPush: { key: res.retryKey! } };
    return { row };
  }

  private async preparePnp(r: Row): Promise<PreparedPnp> {
    const template = r.route?.pnpKind === "template" ? r.content.template : undefined;
    return {
      kind: template ? "pnp_template" : "pnp",
      tag: deliveryTagFor(r.id),
      template,
      messages: template ? null : await lineMessages(this.render, { id: r.id, content: r.content, nextStep: r.next_step }, this.now(), true),
    };
  }

  // ---- push

  /** `prepared`: the key was committed with the route decision and the rate token taken. */
  private async sendPush(r: Row, prepared?: { key: string }): Promise<void> {
    let key = prepared?.key ?? r.retry_key;
    if (!key) {
      // Committed before the first call, so every later attempt (after a crash too) repeats the same key.
      key = await this.retryKeyW.submit({ id: r.id, key: randomUUID() });
      if (!key) return;
    }
    const messages = await lineMessages(this.render, { id: r.id, content: r.content, nextStep: r.next_step }, this.now(), false);
    if (!prepared) await this.buckets.push.take();
    const res = await pushMessage(this.deps.line, { to: r.line_user_id!, messages, retryKey: key }, this.callTimeoutMs);
    this.counts.push++;
    if (res.kind === "ok") {
      await this.pushDoneW.submit({
        id: r.id,
        at: iso(this.now()),
        sent: { channel: "push", status: res.status, requestId: res.requestId, retryKey: key, attempt: r.attempts + 1 },
        delivered: { by: res.status === 409 ? "push_409_retry_key_already_accepted" : "push_200", acceptedRequestId: res.acceptedRequestId },
      });
      this.metric("push", "delivered");
      return;
    }
    if (isMonthlyLimit(res)) return this.reroute(r, "push", "push quota: monthly limit reached (429)");
    return this.handleFailure(r, res, "push");
  }

  /**
   * `minutes` to a friend: one push beside the SMS, made once, before it (the SMS is the channel of record; the push
   * outcome is a timeline entry). Not retried, so it never delays the SMS; its retry key is committed like any push.
   */
  private async sendParallelPush(r: Row, key: string): Promise<void> {
    const messages = await lineMessages(this.render, { id: r.id, content: r.content, nextStep: r.next_step }, this.now(), false);
    const res = await pushMessage(this.deps.line, { to: r.line_user_id!, messages, retryKey: key }, this.callTimeoutMs);
    this.counts.push++;
    const detail =
      res.kind === "ok"
        ? { channel: "push", parallel: true, status: res.status, requestId: res.requestId, retryKey: key }
        : { channel: "push", parallel: true, error: res.kind === "http_error" ? `LINE ${res.status}: ${res.message}` : res.error };
    await this.apply(r.id, sql`last_error = last_error`, [{ state: res.kind === "ok" ? "push_sent" : "push_failed", detail }]);
  }

  private async reroute(r: Row, from: Channel, reason: string): Promise<void> {
    const inputs = r.route!.inputs;
    const route: RouteDecision = { ...decideRoute(inputs, this.now(), "reroute", [from]), reroutedFrom: from };
    if (route.channel === "none") {
      await this.apply(r.id, sql`status = 'undeliverable', route = ${JSON.stringify(route)}::jsonb, due_at = null, last_error = ${reason}`, [
        { state: "rerouted", detail: { from, to: "none", reason } },
        { state: "undeliverable", detail: { reason: route.reason } },
      ]);
      return;
    }
    await this.apply(
      r.id,
      sql`channel = ${route.channel}, route = ${JSON.stringify(route)}::jsonb, attempts = 0, last_error = ${reason}, due_at = ${iso(this.now())}::timestamptz`,
      [{ state: "rerouted", detail: { from, to: route.channel, reason, rule: route.rule } }],
      sql`status = 'queued'`,
    );
  }

  /** A call LINE answered with an error, or one with no answer that surely never reached LINE. */
  private async handleFailure(r: Row, res: Exclude<LineCallResult, { kind: "ok" }>, kind: "push" | "pnp"): Promise<void> {
    const clearMarker = kind === "pnp" ? sql`, pnp_call_started_at = null` : sql``;
    if (res.kind === "http_error" && res.status === 429) {
      // Rate limit: not this notification's fault; wait as LINE asks, without spending an attempt, and hold the
      // whole endpoint back for that long (other due rows would only collect 429s too).
      const wait = res.retryAfterSeconds ?? this.backoffSeconds(r.attempts);
      if (res.retryAfterSeconds !== null && this.maxRatePauseMs > 0) {
        const bucket = kind === "push" ? this.buckets.push : r.route?.pnpKind === "template" ? this.buckets.pnp_template : this.buckets.pnp;
        bucket.pause(Math.min(res.retryAfterSeconds * 1000, this.maxRatePauseMs));
      }
      return this.retryAt(r, wait, `rate limited (429)`, false, clearMarker);
    }
    if ((res.kind === "http_error" && res.status >= 500) || res.kind === "no_response") {
      const reason = res.kind === "http_error" ? `LINE ${res.status}: ${res.message}` : `no response: ${res.error}`;
      if (r.attempts + 1 >= this.maxAttempts) return this.lineLegFailed(r, `${reason} (gave up after ${r.attempts + 1} attempts)`, "failed", clearMarker);
      return this.retryAt(r, this.backoffSeconds(r.attempts), reason, true, clearMarker);
    }
    const status = res.kind === "http_error" ? res.status : 0;
    const message = res.kind === "http_error" ? res.message : "";
    if (kind === "pnp" && status === 422) {
      return this.lineLegFailed(r, "LINE 422: no LINE account for this number, or the user refused notification messages", "undeliverable", sql``);
    }
    return this.lineLegFailed(r, `LINE ${status}: ${message}`, "failed", sql``);
  }

  /** Exponential backoff with full jitter, 1 s base, capped at 10 min. */
  private backoffSeconds(attempts: number): number {
    const cap = Math.min(600, 2 ** Math.min(attempts, 10));
    return Math.max(0.5, Math.random() * cap);
  }

  private async retryAt(r: Row, seconds: number, reason: string, countAttempt: boolean, extra: SQL = sql``): Promise<void> {
    const at = new Date(this.now().getTime() + Math.ceil(seconds * 1000));
    await this.apply(
      r.id,
      sql`due_at = ${iso(at)}::timestamptz, last_error = ${reason.slice(0, 500)}, attempts = attempts + ${countAttempt ? 1 : 0} ${extra}`,
      [{ state: "retry_scheduled", detail: { reason, retryAt: iso(at), attempt: r.attempts + (countAttempt ? 1 : 0) } }],
    );
  }

  /** The LINE leg is over without a send: SMS now if this notification may use it, else the given final state. */
  private async lineLegFailed(r: Row, reason: string, finalState: "failed" | "undeliverable", extra: SQL): Promise<void> {
    const inputs = r.route!.inputs;
    if (smsAllowed(inputs)) {
      await this.apply(r.id, sql`status = 'fallback_sms', attempts = 0, last_error = ${reason}, due_at = ${iso(this.now())}::timestamptz ${extra}`, [
        { state: "fallback_sms", detail: { reason } },
      ]);
      return;
    }
    await this.apply(r.id, sql`status = ${finalState}, last_error = ${reason}, due_at = null ${extra}`, [{ state: finalState, detail: { reason } }]);
  }

  // ---- PNP

  /** While waiting for the `delivery` event: the SMS deadline, or the end of LINE's 24-hour window. */
  private waitDue(r: Row, sentAt: Date): Date {
    const windowEnd = sentAt.getTime() + PNP_WINDOW_SECONDS * 1000;
    const deadline = r.sms_deadline_at && !r.sms_call_started_at ? r.sms_deadline_at.getTime() : Infinity;
    return new Date(Math.min(windowEnd, deadline));
  }

  /** `prepared`: the sent-marker was committed with the route decision and the rate token taken. */
  private async sendPnp(r: Row, prepared?: PreparedPnp): Promise<void> {
    if (r.pnp_call_started_at && !prepared) {
      // A call was started and its outcome never recorded (crash, lost lease): LINE may have accepted it. No retry
      // key exists for PNP, so never call again; the delivery event (or the SMS deadline) settles it.
      const sentAt = r.pnp_call_started_at;
      await this.apply(
        r.id,
        sql`status = case when delivered_at is null then 'sent' else status end, sent_at = coalesce(sent_at, ${iso(sentAt)}::timestamptz),
            due_at = case when delivered_at is null then ${iso(this.waitDue(r, sentAt))}::timestamptz else null end`,
        [{ state: "sent", detail: { channel: "pnp", ambiguous: true, reason: "an earlier call's outcome is unknown; never resent (no retry key for PNP)" } }],
        sql`status = 'queued'`,
      );
      return;
    }
    const { kind, tag, template, messages } = prepared ?? (await this.preparePnp(r));
    if (!prepared) {
      await this.buckets[kind].take();
      const marked = await this.markerW.submit({ id: r.id, at: iso(this.now()), tag });
      if (!marked) return;
    }
    const res = template
      ? await pushPnpTemplate(this.deps.line, { to: r.phone_hash!, template, deliveryTag: tag }, this.callTimeoutMs)
      : await pushPnpMessages(this.deps.line, { to: r.phone_hash!, messages: messages!, deliveryTag: tag }, this.callTimeoutMs);
    this.counts[kind]++;
    if (res.kind === "ok") {
      const sentAt = this.now();
      await this.pnpSentW.submit({
        id: r.id,
        at: iso(sentAt),
        due_at: iso(this.waitDue(r, sentAt)),
        tag,
        detail: { channel: "pnp", kind, status: res.status, requestId: res.requestId, deliveryTag: tag },
      });
      this.metric("pnp", "sent");
      return;
    }
    if (res.kind === "no_response" && !res.notSent) {
      const sentAt = this.now();
      await this.apply(
        r.id,
        sql`status = case when delivered_at is null and status = 'queued' then 'sent' else status end, sent_at = ${iso(sentAt)}::timestamptz,
            attempts = attempts + 1, last_error = ${res.error.slice(0, 500)},
            due_at = case when delivered_at is null then ${iso(this.waitDue(r, sentAt))}::timestamptz else null end`,
        [{ state: "sent", detail: { channel: "pnp", kind, ambiguous: true, reason: `no response (${res.error}); never resent, waiting for the delivery event` } }],
      );
      return;
    }
    return this.handleFailure(r, res, "pnp");
  }

  private async checkWaiting(r: Row): Promise<void> {
    const now = this.now();
    if (r.delivered_at) {
      await this.apply(r.id, sql`status = 'delivered', due_at = null`, [], sql`status = 'sent'`);
      return;
    }
    const smsPending = Boolean(r.sms_deadline_at && !r.sms_call_started_at);
    if (r.seen_at) {
      // The recipient opened the next-step page from the LINE message: it reached them; no SMS.
      await this.apply(
        r.id,
        sql`status = 'delivered', due_at = null, sms_deadline_at = null`,
        [
          ...(smsPending ? [{ state: "sms_cancelled", detail: { reason: "next-step page opened" } }] : []),
          { state: "delivered", detail: { by: "next_step_page_view", seenAt: iso(r.seen_at) } },
        ],
        sql`status = 'sent' and delivered_at is null`,
      );
      return;
    }
    if (smsPending && now >= r.sms_deadline_at!) {
      const ok = await this.apply(
        r.id,
        sql`status = 'fallback_sms', attempts = 0`,
        [{ state: "fallback_sms", detail: { reason: "no delivery event before the SMS deadline", deadline: iso(r.sms_deadline_at!) } }],
        // sms_deadline_at: the cancel API may have called the SMS off since this row was claimed.
        sql`status = 'sent' and delivered_at is null and seen_at is null and sms_deadline_at is not null and sms_call_started_at is null`,
      );
      if (ok) await this.sendSms({ ...r, status: "fallback_sms", attempts: 0 }, true);
      return;
    }
    const sentAt = r.sent_at ?? r.pnp_call_started_at ?? r.created_at;
    if (now.getTime() >= sentAt.getTime() + PNP_WINDOW_SECONDS * 1000) {
      await this.apply(r.id, sql`status = 'undelivered', due_at = null`, [{ state: "undelivered", detail: { reason: "no delivery event within 24 h and no SMS" } }], sql`status = 'sent' and delivered_at is null`);
      return;
    }
    await this.apply(r.id, sql`due_at = ${iso(this.waitDue(r, sentAt))}::timestamptz`, [], sql`status = 'sent'`);
  }

  // ---- SMS

  private async sendSms(r: Row, fallback: boolean): Promise<void> {
    const { sms } = this.deps;
    if (fallback && (r.delivered_at || r.seen_at)) {
      await this.apply(
        r.id,
        sql`status = 'delivered', due_at = null`,
        [
          { state: "sms_cancelled", detail: { reason: r.delivered_at ? "delivery event" : "next-step page opened" } },
          ...(r.delivered_at ? [] : [{ state: "delivered", detail: { by: "next_step_page_view" } }]),
        ],
        sql`status = 'fallback_sms'`,
      );
      return;
    }
    if (!r.phone_e164) return this.finish(r, "undeliverable", { reason: "no phone number for SMS" });
    if (r.sms_call_started_at && !r.sms_sent_at && !sms.dedupesOnReference) {
      // An SMS call whose outcome is unknown: this provider does not dedupe, so sending again could double it.
      await this.apply(
        r.id,
        sql`status = case when delivered_at is not null then 'delivered_late' else 'sms_sent' end, sms_sent_at = sms_call_started_at, due_at = null`,
        [{ state: "sms_sent", detail: { provider: sms.name, ambiguous: true, reason: "an earlier SMS call's outcome is unknown; not resent" } }],
      );
      return;
    }
    if (!r.sms_call_started_at) {
      const marked = await this.apply(
        r.id,
        sql`sms_call_started_at = ${iso(this.now())}::timestamptz`,
        [],
        sql`sms_call_started_at is null and delivered_at is null and seen_at is null and status in ('queued', 'fallback_sms')`,
      );
      if (!marked) {
        // A delivery or page view won the race: let the next claim settle it.
        await this.apply(r.id, sql`due_at = ${iso(this.now())}::timestamptz`, [], sql`status in ('queued', 'fallback_sms')`);
        return;
      }
    }
    const text = smsText(this.render, { id: r.id, content: r.content, nextStep: r.next_step, sms: r.sms, createdAt: r.created_at }, fallback);
    try {
      const res = await sms.send({ to: r.phone_e164, text, reference: r.id });
      this.counts.sms++;
      const rows = await this.deps.db.query<{ status: string }>(sql`
        update notifications set sms_sent_at = ${iso(this.now())}::timestamptz, sms_reference = ${res.providerReference},
          status = case when delivered_at is not null then 'delivered_late' else 'sms_sent' end, due_at = null,
          updated_at = ${iso(this.now())}::timestamptz, last_error = null
        where id = ${r.id} returning status`);
      const status = rows[0]?.status ?? "sms_sent";
      this.metric("sms", status);
      await this.deps.db.query(sql`
        insert into notification_events (notification_id, at, state, detail) values
          (${r.id}, ${iso(this.now())}::timestamptz, 'sms_sent', ${JSON.stringify({ provider: sms.name, reference: res.providerReference, fallback })}::jsonb)
          ${status === "delivered_late" ? sql`, (${r.id}, ${iso(this.now())}::timestamptz, 'delivered_late', ${JSON.stringify({ by: "delivery event during the SMS call" })}::jsonb)` : sql``}`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof SmsRejectedError) {
        await this.apply(r.id, sql`status = 'failed', due_at = null, last_error = ${message.slice(0, 500)}`, [{ state: "failed", detail: { reason: message, provider: sms.name } }]);
        return;
      }
      const surelyNotSent = err instanceof SmsRetryableError;
      if (!surelyNotSent && !sms.dedupesOnReference) {
        await this.apply(
          r.id,
          sql`status = case when delivered_at is not null then 'delivered_late' else 'sms_sent' end, sms_sent_at = sms_call_started_at, due_at = null, last_error = ${message.slice(0, 500)}`,
          [{ state: "sms_sent", detail: { provider: sms.name, ambiguous: true, reason: `${message}; not resent` } }],
        );
        return;
      }
      if (r.attempts + 1 >= this.maxAttempts) {
        await this.apply(r.id, sql`status = 'failed', due_at = null, last_error = ${message.slice(0, 500)}, sms_call_started_at = null`, [
          { state: "failed", detail: { reason: `SMS: ${message} (gave up after ${r.attempts + 1} attempts)` } },
        ]);
        return;
      }
      // Surely not accepted → clear the marker; a deduping provider keeps it (the retry reuses the reference).
      await this.retryAt(r, this.backoffSeconds(r.attempts), `SMS: ${message}`, true, surelyNotSent ? sql`, sms_call_started_at = null` : sql``);
    }
  }
}

export function createNotifyWorker(deps: NotifyWorkerDeps, opts?: NotifyWorkerOptions): NotifyWorker {
  return new NotifyWorker(deps, opts);
}
