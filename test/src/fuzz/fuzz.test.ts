// The fuzz suite (docs/threat-model.md): generated requests from the schemas with hostile mutations, against
// createApp on the test database (PGlite, or PostgreSQL with DATABASE_URL). Invariants:
//  1. never a 5xx for client input;          2. nothing stored on a 4xx;
//  3. a valid webhook event is stored (and processed) whatever other requests carry;
//  4. no phone number, token or secret in any log line;   5. /healthz stays 200.
// A seeded, bounded run is part of `pnpm test`; `pnpm fuzz` runs longer (FUZZ_RUNS, FUZZ_SEED).
import type { Server } from "node:http";
import { sql } from "@oa-notify/db";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, sign, TEST_API_KEY, TEST_SECRET } from "../helpers/app.ts";
import { DESTINATION } from "../helpers/events.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { bearer, buildLiffTestApp, type LiffTestContext, lineUser } from "../liff/helpers.ts";
import { apiRequest, encode, hostileEvent, liffRequest, toJson, validEvent } from "./arbitraries.ts";

const SEED = Number(process.env["FUZZ_SEED"] ?? 20261202);
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 0);
const runs = (bounded: number) => (RUNS > 0 ? RUNS : bounded);

let t: LiffTestContext;
let server: Server;
let idToken: string;
const counts: Record<string, number> = {};
beforeAll(async () => {
  t = await buildLiffTestApp({ PUBLIC_RATE_LIMIT_PER_MINUTE: "1000000" });
  server = await listen(t.app);
  idToken = await t.token(lineUser(), { expiresIn: 24 * 3600 });
});
afterAll(async () => {
  console.log(`fuzz (seed ${SEED}): cases per property ${JSON.stringify(counts)}`);
  await new Promise<void>((r) => server.close(() => r()));
  await t.close();
});

/** Rows in every table a request can write (webhook processing excluded: it runs only after a 200). */
async function stored(): Promise<number> {
  const [r] = await t.db.query<{ n: string }>(sql`select
    (select count(*) from notifications) + (select count(*) from notification_events) + (select count(*) from members)
    + (select count(*) from bills) + (select count(*) from orders) + (select count(*) from otp_challenges)
    + (select count(*) from friend_prompts) + (select count(*) from sms_outbox) + (select count(*) from consent_ledger)
    + (select count(*) from binding_tokens) as n`);
  return Number(r!.n);
}

// What must never appear in a log line: phone numbers (TW mobiles, E.164 of the PNP countries), JWTs, secrets.
const FORBIDDEN = [/\+(?:886|81|66)\d{8,10}/, /(?<![\w.+-])0?9\d{2}-?\d{3}-?\d{3}(?![\w-])/, /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./];
const SECRETS = [TEST_API_KEY, "second-key-abcdefghijkl", TEST_SECRET, "test-access-token"];
function assertCleanLogs(from: number, label: string) {
  for (const line of t.logs.lines.slice(from)) {
    for (const re of FORBIDDEN) expect(re.test(line), `${label}: log line matches ${re}: ${line.slice(0, 300)}`).toBe(false);
    for (const s of SECRETS) expect(line.includes(s), `${label}: a secret in the log`).toBe(false);
  }
}

async function healthy() {
  expect((await rawRequest(server, { method: "GET", path: "/healthz" })).status).toBe(200);
}

describe("fuzz: API and short links", () => {
  it("never 5xx, nothing stored on 4xx, clean logs", async () => {
    await fc.assert(
      fc.asyncProperty(apiRequest(TEST_API_KEY), async (req) => {
        counts["api"] = (counts["api"] ?? 0) + 1;
        const before = await stored();
        const logFrom = t.logs.lines.length;
        const res = await rawRequest(server, req);
        expect(res.status, `${req.method} ${req.path} (${req.label}): ${res.text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(await stored(), `${req.label}: stored on ${res.status}`).toBe(before);
          if (res.status !== 404 || req.path.startsWith("/api")) expect(typeof res.body?.error?.code, `${req.label}: error shape`).toBe("string");
        }
        assertCleanLogs(logFrom, req.label);
      }),
      { seed: SEED, numRuns: runs(150), endOnFailure: true },
    );
    await healthy();
  });

  it("LIFF API bodies with a valid ID token: never 5xx, nothing stored on 4xx, clean logs", async () => {
    await fc.assert(
      fc.asyncProperty(liffRequest, async (r) => {
        counts["liff"] = (counts["liff"] ?? 0) + 1;
        const before = await stored();
        const logFrom = t.logs.lines.length;
        const { body, header } = encode(toJson(r.body), r.enc);
        const headers: Record<string, string> = {
          ...bearer(idToken),
          ...(r.ct ? { "content-type": r.ct } : {}),
          ...(header ? { "content-encoding": header } : {}),
        };
        const res = await rawRequest(server, { path: r.path, headers, body });
        expect(res.status, `${r.path} ${r.enc}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) expect(await stored()).toBe(before);
        assertCleanLogs(logFrom, r.path);
      }),
      { seed: SEED + 1, numRuns: runs(60), endOnFailure: true },
    );
    await healthy();
  });
});

describe("fuzz: webhook", () => {
  const post = (body: string, signature: string | null) =>
    rawRequest(server, { path: "/webhook", headers: { "content-type": "application/json", ...(signature ? { "x-line-signature": signature } : {}) }, body });

  it("valid events among hostile concurrent bodies are all stored and processed; hostile ones are 200, 400 or 401", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(validEvent, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 8 }),
        fc.array(fc.tuple(fc.array(hostileEvent, { minLength: 1, maxLength: 3 }), fc.constantFrom("signed", "signed", "signed", "unsigned", "forged")), {
          minLength: 1,
          maxLength: 3,
        }),
        async (valid, hostile) => {
          counts["webhook"] = (counts["webhook"] ?? 0) + 1;
          const logFrom = t.logs.lines.length;
          const validBodies = valid.map((events) => JSON.stringify({ destination: DESTINATION, events }));
          const hostileBodies = hostile.map(([events, how]) => {
            const body = toJson({ destination: DESTINATION, events });
            return { body, how, sig: how === "signed" ? sign(body) : how === "forged" ? sign(body, "not-the-secret") : null };
          });
          const [vr, hr] = await Promise.all([
            Promise.all(validBodies.map((b) => post(b, sign(b)))),
            Promise.all(hostileBodies.map((h) => post(h.body, h.sig))),
          ]);
          expect(vr.map((r) => r.status)).toEqual(vr.map(() => 200));
          hr.forEach((r, i) => {
            expect(r.status, `hostile ${hostileBodies[i]!.how}: ${r.text}`).toBeLessThan(500);
            if (hostileBodies[i]!.how !== "signed") expect(r.status).toBe(401);
            else expect([200, 400]).toContain(r.status);
          });
          const ids = valid.flat().map((e) => e.webhookEventId);
          const [n] = await t.db.query<{ n: string }>(
            sql`select count(*) as n from webhook_events where webhook_event_id in (select value from json_array_elements_text(${JSON.stringify(ids)}::json))`,
          );
          expect(Number(n!.n)).toBe(new Set(ids).size);
          await t.app.services.processor.kick();
          await t.app.services.processor.drain();
          const pending = await t.db.query<{ n: string }>(
            sql`select count(*) as n from webhook_events where processed_at is null and webhook_event_id in (select value from json_array_elements_text(${JSON.stringify(ids)}::json))`,
          );
          expect(Number(pending[0]!.n)).toBe(0);
          const follows = valid
            .flat()
            .filter((e) => e.type === "follow")
            .map((e) => (e as { source: { userId: string } }).source.userId);
          if (follows.length > 0) {
            const friends = await t.db.query<{ n: string }>(
              sql`select count(*) as n from line_users where friend and user_id in (select value from json_array_elements_text(${JSON.stringify(follows)}::json))`,
            );
            expect(Number(friends[0]!.n)).toBe(follows.length);
          }
          assertCleanLogs(logFrom, "webhook");
        },
      ),
      { seed: SEED + 2, numRuns: runs(25), endOnFailure: true },
    );
    await healthy();
    const metrics = await t.app.services.metrics.registry.metrics();
    const types = new Set([...metrics.matchAll(/webhook_events(?:_processed)?_total\{type="([^"]*)"/g)].map((m) => m[1]));
    expect([...types].every((x) => /^[A-Za-z]{1,20}$/.test(x!))).toBe(true);
  });
});
