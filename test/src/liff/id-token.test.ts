import { SignJWT, UnsecuredJWT } from "jose";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, buildLiffTestApp, type LiffTestContext, LOGIN_CHANNEL_ID, lineUser } from "./helpers.ts";

let t: LiffTestContext;
beforeAll(async () => {
  t = await buildLiffTestApp();
});
afterAll(async () => t.close());

const me = (token: string | null) => {
  const r = request(t.app).get("/liff-api/me");
  return token === null ? r : r.set(bearer(token));
};

describe("LIFF ID token verification", () => {
  it("accepts a token signed by a key in LINE's JWKS and trusts its sub", async () => {
    const sub = lineUser();
    const res = await me(await t.token(sub));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ lineUserId: sub, member: null, friend: false });
  });

  it("answers 401 without a token", async () => {
    const res = await me(null);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthorized");
  });

  it("rejects a token signed by another key with the same kid", async () => {
    const res = await me(await t.token(lineUser(), { foreignKey: true }));
    expect(res.status).toBe(401);
  });

  it("rejects another channel's token (wrong aud)", async () => {
    const res = await me(await t.token(lineUser(), { aud: "1999999999" }));
    expect(res.status).toBe(401);
  });

  it("rejects a wrong issuer", async () => {
    const res = await me(await t.token(lineUser(), { iss: "https://evil.example.com" }));
    expect(res.status).toBe(401);
  });

  it("rejects an expired token, beyond the small clock tolerance", async () => {
    const token = await t.token(lineUser(), { expiresIn: 60 });
    t.clock.advance(60_000 + 20_000); // inside the 30 s tolerance
    expect((await me(token)).status).toBe(200);
    t.clock.advance(15_000); // now 35 s past exp
    expect((await me(token)).status).toBe(401);
  });

  it("rejects HS256 tokens keyed with anything public (alg confusion), and alg none", async () => {
    const sub = lineUser();
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const claims = { iss: "https://access.line.me", sub, aud: LOGIN_CHANNEL_ID, iat: now, exp: now + 600 };
    // HS256 keyed with the channel id and with the public JWKS text: both are things an attacker knows.
    const jwksText = await (await fetch(`${t.jwks.url}/oauth2/v2.1/certs`)).text();
    for (const secret of [LOGIN_CHANNEL_ID, jwksText, t.config.line.channelSecret]) {
      const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
      expect((await me(hs)).status).toBe(401);
    }
    const none = new UnsecuredJWT(claims).encode();
    expect((await me(none)).status).toBe(401);
    // And the same claims properly signed pass, so the refusals above are about the algorithm.
    expect((await me(await t.token(sub))).status).toBe(200);
  });

  it("rejects garbage and a sub that is not a LINE user id", async () => {
    expect((await me("not.a.jwt")).status).toBe(401);
    expect((await me(await t.token("someone-else"))).status).toBe(401);
  });

  it("picks up a rotated key (unknown kid → JWKS refetched), but not again for made-up kids within the cooldown", async () => {
    t.clock.advance(60_000);
    const before = t.jwks.fetches;
    const kid = await t.jwks.addKey();
    const sub = lineUser();
    const res = await me(await t.token(sub, { kid }));
    expect(res.status).toBe(200);
    expect(res.body.lineUserId).toBe(sub);
    expect(t.jwks.fetches).toBe(before + 1);
    for (let i = 0; i < 3; i++) expect((await me(await t.token(lineUser(), { kid: "made-up-kid", foreignKey: true }))).status).toBe(401);
    expect(t.jwks.fetches).toBe(before + 1);
  });

  it("caches the JWKS between requests", async () => {
    await me(await t.token(lineUser()));
    const before = t.jwks.fetches;
    for (let i = 0; i < 3; i++) expect((await me(await t.token(lineUser()))).status).toBe(200);
    expect(t.jwks.fetches).toBe(before);
  });

  it("never logs the ID token", async () => {
    const token = await t.token(lineUser());
    await me(token);
    expect(t.logs.text).not.toContain(token.split(".")[2]);
  });
});

describe("GET /liff-config", () => {
  it("gives the app its LIFF id, API base, sandbox flag and add-friend link without auth", async () => {
    const res = await request(t.app).get("/liff-config");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ liffId: "1657000001-AbCdEfGh", apiBase: "/liff-api", sandbox: true, addFriendUrl: "https://line.me/R/ti/p/@oanotify" });
  });
});
