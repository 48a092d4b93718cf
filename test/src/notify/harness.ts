import { randomBytes, randomInt } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "@oa-notify/db";
import { createLineApi, createLogger } from "@oa-notify/server";
import { createLogSmsProvider } from "@oa-notify/server/lib/sms/log.ts";
import type { SmsProvider } from "@oa-notify/server/lib/sms/types.ts";
import { createNotifyWorker, type NotifyWorker, type NotifyWorkerOptions } from "@oa-notify/server/notify/worker.ts";
import { type SimUserInput, type StartedLineEmulator, startLineEmulator } from "@oa-notify/server/sandbox/emulator.ts";
import request from "supertest";
import { auth, buildTestApp, listen, TEST_SECRET, type TestContext, testClock, testConfig } from "../helpers/app.ts";
import type { TestDb } from "../helpers/db.ts";

export const ACCESS_TOKEN = "test-access-token";

export interface NotifyHarness {
  t: TestContext;
  emulator: StartedLineEmulator;
  worker: NotifyWorker;
  /** the SMS provider the worker uses: records into the emulator's SMS inbox */
  sms: SmsProvider;
  newWorker(opts?: NotifyWorkerOptions, sms?: SmsProvider): NotifyWorker;
  /** runs the worker until nothing is due at the clock's now */
  run(): Promise<number>;
  /** sends every pending delivery webhook now and waits until our server processed them */
  deliveries(): Promise<void>;
  post(body: unknown, headers?: Record<string, string>): request.Test;
  get(id: string): Promise<any>;
  /** a member with a fresh phone; options: a LINE user at the emulator (friend or not), bound to the member */
  member(opts?: {
    sim?: SimUserInput | false;
    bind?: boolean;
    follow?: boolean;
  }): Promise<{ memberId: string; phone: string; e164: string; userId: string | null }>;
  /** a next-step record owned by the member (PUT /api/v1/orders|bills/:id); returns its id */
  record(type: "order" | "bill", memberId: string, id?: string): Promise<string>;
  /** adds or changes a scenario in the registry (PUT /api/v1/scenarios/:name) */
  scenario(name: string, body: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export function randomPhone(): { local: string; e164: string } {
  const rest = String(randomInt(0, 1_000_000)).padStart(6, "0");
  const a = String(randomInt(10, 90));
  return { local: `09${a}${rest}`, e164: `+8869${a}${rest}` };
}

export async function notifyHarness(
  opts: { db?: TestDb; workerOptions?: NotifyWorkerOptions; env?: Record<string, string | undefined> } = {},
): Promise<NotifyHarness> {
  const clock = testClock();
  const emulator = await startLineEmulator({
    channelSecret: TEST_SECRET,
    channelAccessToken: ACCESS_TOKEN,
    loginChannelId: testConfig(opts.env).line.loginChannelId,
    clock,
    deliveryDelayMs: 60_000, // tests release deliveries explicitly with flushDeliveries()
  });
  // The app's own LINE client points at the emulator too (as main.ts does in sandbox mode): the LIFF API checks ID
  // tokens against the emulator's JWKS. The emulator starts first because the config is frozen once built.
  const t = await buildTestApp({ clock, env: { ...opts.env, LINE_API_BASE_URL: emulator.url }, ...(opts.db ? { db: opts.db } : {}) });
  const server: Server = await listen(t.app);
  emulator.setWebhookUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`);
  const line = createLineApi({ baseUrl: emulator.url, channelAccessToken: ACCESS_TOKEN });
  const sms = createLogSmsProvider((m) => emulator.recordSms(m));
  const logger = createLogger("silent");
  // maxRatePauseMs 0: a 429's Retry-After still delays the row (on the manual clock), but does not also stall the
  // shared worker's bucket in real time for the following tests.
  const newWorker = (o: NotifyWorkerOptions = {}, s: SmsProvider = sms) =>
    createNotifyWorker(
      { db: t.db, line, sms: s, clock: t.clock, logger, config: t.config },
      { callTimeoutMs: 5_000, maxRatePauseMs: 0, ...opts.workerOptions, ...o },
    );
  const worker = newWorker();
  const h: NotifyHarness = {
    t,
    emulator,
    worker,
    sms,
    newWorker,
    run: () => worker.runUntilIdle(),
    async deliveries() {
      await emulator.flushDeliveries();
      await t.app.services.processor.kick();
      await t.app.services.processor.drain();
    },
    post: (body, headers = {}) =>
      request(t.app)
        .post("/api/v1/notifications")
        .set(auth())
        .set(headers)
        .send(body as object),
    async get(id) {
      const res = await request(t.app).get(`/api/v1/notifications/${id}`).set(auth());
      if (res.status !== 200) throw new Error(`GET notification ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async member(o = {}) {
      const memberId = `m-${randomBytes(6).toString("hex")}`;
      const phone = randomPhone();
      const put = await request(t.app).put(`/api/v1/members/${memberId}`).set(auth()).send({ phone: phone.local });
      if (put.status !== 201) throw new Error(`member upsert: ${put.status}`);
      let userId: string | null = null;
      if (o.sim !== false) {
        const u = emulator.createUser({ phone: phone.local, ...(o.sim ?? {}) });
        userId = u.userId;
        if (o.bind) await t.db.query(sql`update members set line_user_id = ${userId}, bound_at = now() where member_id = ${memberId}`);
        if (o.follow) {
          await emulator.follow(userId);
          await t.app.services.processor.kick();
          await t.app.services.processor.drain();
        }
      }
      return { memberId, phone: phone.local, e164: phone.e164, userId };
    },
    async record(type, memberId, id = `${type[0]}-${randomBytes(5).toString("hex")}`) {
      const body =
        type === "order"
          ? { memberId, status: "shipped", items: [{ name: "商品 Item", quantity: 1, unitPriceTwd: 100 }], amountTwd: 100 }
          : { memberId, status: "unpaid", amountTwd: 1234 };
      const res = await request(t.app).put(`/api/v1/${type}s/${id}`).set(auth()).send(body);
      if (res.status !== 201 && res.status !== 200) throw new Error(`${type} upsert: ${res.status} ${JSON.stringify(res.body)}`);
      return id;
    },
    async scenario(name, body) {
      const res = await request(t.app).put(`/api/v1/scenarios/${name}`).set(auth()).send(body);
      if (res.status !== 201 && res.status !== 200) throw new Error(`scenario ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    },
    async close() {
      await worker.stop();
      await emulator.close();
      await new Promise<void>((r) => server.close(() => r()));
      await t.close();
    },
  };
  return h;
}

/** Moves the clock forward to the next 10:00 in Taipei (02:00 UTC): clear of the fallback SMS quiet hours. */
export function toTaipeiMorning(h: NotifyHarness): void {
  const now = h.t.clock.now().getTime();
  const day = 24 * 3600_000;
  let next = Math.floor(now / day) * day + 2 * 3600_000;
  if (next <= now) next += day;
  h.t.clock.set(next);
}

export const text = (s = "您的包裹已出貨 Your parcel has shipped") => ({ text: s });
export const MIN = 60_000;
export const HOUR = 60 * MIN;
