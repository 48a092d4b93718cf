import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { sql } from "@oa-notify/db";
import { signViewToken } from "@oa-notify/server/lib/view-token.ts";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import request from "supertest";
import { auth, buildTestApp, type TestContext } from "../helpers/app.ts";

export const LOGIN_CHANNEL_ID = "1657000001";

export interface Jwks {
  url: string;
  /** Adds a key to the served set (a rotation); returns its kid. */
  addKey(): Promise<string>;
  mint(sub: string, opts?: MintOptions): Promise<string>;
  fetches: number;
  close(): Promise<void>;
}
export interface MintOptions {
  aud?: string;
  iss?: string;
  /** seconds from `now` */
  expiresIn?: number;
  now?: Date;
  kid?: string;
  /** a key NOT in the served set */
  foreignKey?: boolean;
}

/**
 * A stand-in for LINE's `/oauth2/v2.1/certs` on loopback: ES256 keys with `kid`, like the real JWKS, and a
 * minting function shaped like LINE's LIFF ID tokens (LINE Login's ID token format).
 */
export async function startJwks(): Promise<Jwks> {
  const keys = new Map<string, { privateKey: CryptoKey; jwk: JWK }>();
  const foreign = await generateKeyPair("ES256");
  const addKey = async () => {
    const kid = randomBytes(8).toString("hex");
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    keys.set(kid, { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } });
    return kid;
  };
  const firstKid = await addKey();
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === "/oauth2/v2.1/certs") {
      fetches++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [...keys.values()].map((k) => k.jwk) }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const jwks: Jwks = {
    url: `http://127.0.0.1:${port}`,
    addKey,
    get fetches() {
      return fetches;
    },
    async mint(sub, o = {}) {
      const kid = o.kid ?? firstKid;
      const key = o.foreignKey ? foreign.privateKey : keys.get(kid)!.privateKey;
      const iat = Math.floor((o.now ?? new Date()).getTime() / 1000);
      return new SignJWT({ name: "測試用戶", amr: ["linesso"] })
        .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
        .setIssuer(o.iss ?? "https://access.line.me")
        .setSubject(sub)
        .setAudience(o.aud ?? LOGIN_CHANNEL_ID)
        .setIssuedAt(iat)
        .setExpirationTime(iat + (o.expiresIn ?? 3600))
        .sign(key);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } as Jwks;
  return jwks;
}

export interface LiffTestContext extends TestContext {
  jwks: Jwks;
  /** A fresh ID token for `sub` at the app's clock. */
  token(sub: string, opts?: MintOptions): Promise<string>;
}

export async function buildLiffTestApp(env: Record<string, string> = {}): Promise<LiffTestContext> {
  const jwks = await startJwks();
  const t = await buildTestApp({
    env: { LINE_API_BASE_URL: jwks.url, LINE_LOGIN_CHANNEL_ID: LOGIN_CHANNEL_ID, LIFF_ID: "1657000001-AbCdEfGh", LINE_OA_BASIC_ID: "@oanotify", ...env },
  });
  const close = t.close;
  return Object.assign(t, {
    jwks,
    token: (sub: string, opts: MintOptions = {}) => jwks.mint(sub, { now: t.clock.now(), ...opts }),
    close: async () => {
      await close();
      await jwks.close();
    },
  });
}

export const lineUser = () => `U${randomBytes(16).toString("hex")}`;
export const rid = (p: string) => `${p}-${randomBytes(5).toString("hex")}`;
/** A Taiwan mobile number nobody else in the test uses. */
export const randomPhone = () =>
  `09${["12", "21", "33", "55", "63", "78", "88"][Math.floor(Math.random() * 7)]}${String(Math.floor(Math.random() * 1_000_000)).padStart(6, "0")}`;
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
export const CONSENT = { version: "2026-11-26.v1", accepted: true } as const;

export async function createMember(t: TestContext, memberId = rid("m"), phone = randomPhone()) {
  const res = await request(t.app).put(`/api/v1/members/${memberId}`).set(auth()).send({ phone });
  if (res.status >= 300) throw new Error(`member: ${res.status} ${JSON.stringify(res.body)}`);
  return { memberId, phone, e164: res.body.phone as string };
}

export async function bindingLink(t: TestContext, memberId: string) {
  const res = await request(t.app).post(`/api/v1/members/${memberId}/binding-links`).set(auth()).send();
  if (res.status !== 201) throw new Error(`binding link: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...(res.body as { url: string; expiresAt: string }), token: new URL(res.body.url).searchParams.get("token")! };
}

/** Binds through the public API with a binding link (the real path). */
export async function bindByLink(t: LiffTestContext, memberId: string, sub: string) {
  const { token } = await bindingLink(t, memberId);
  const res = await request(t.app)
    .post("/liff-api/bindings")
    .set(bearer(await t.token(sub)))
    .send({ bindingToken: token, consent: CONSENT });
  if (res.status !== 201) throw new Error(`bind: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function putBill(t: TestContext, billId: string, memberId: string, extra: Record<string, unknown> = {}) {
  const res = await request(t.app)
    .put(`/api/v1/bills/${billId}`)
    .set(auth())
    .send({
      memberId,
      status: "unpaid",
      amountTwd: 1280,
      period: "2026-11",
      dueAt: "2026-12-05T15:59:59Z",
      paymentUrl: "https://pay.example.com/b/1",
      ...extra,
    });
  if (res.status >= 300) throw new Error(`bill: ${res.status} ${JSON.stringify(res.body)}`);
}
export async function putOrder(t: TestContext, orderId: string, memberId: string) {
  const res = await request(t.app)
    .put(`/api/v1/orders/${orderId}`)
    .set(auth())
    .send({
      memberId,
      status: "shipped",
      items: [{ name: "保溫瓶", quantity: 2, unitPriceTwd: 450 }],
      amountTwd: 900,
      orderedAt: "2026-11-25T03:00:00Z",
      trackingUrl: "https://track.example.com/x",
    });
  if (res.status >= 300) throw new Error(`order: ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * A notification row with a next step, as the notifier writes it, and the view token its button carries.
 * Inserted directly so these tests do not depend on the notifier's send path.
 */
export async function notificationWithViewToken(t: TestContext, next: { type: "order" | "bill"; id: string }, memberId: string | null) {
  const nid = randomUUID();
  await t.db.query(sql`insert into notifications (id, member_id, scenario, urgency, content, next_step, status, created_at, updated_at)
    values (${nid}, ${memberId}, ${next.type === "bill" ? "billing" : "shipping"}, 'day', '{"text":"x"}'::jsonb,
            ${JSON.stringify(next)}::jsonb, 'sent', now(), now())`);
  const viewToken = await signViewToken(t.config.appSecret, { nid, type: next.type, id: next.id }, t.clock.now());
  return { nid, viewToken };
}
