import { Script } from "node:vm";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, sign } from "../helpers/app.ts";
import { followEvent, unfollowEvent, webhookBody } from "../helpers/events.ts";
import { bearer, buildLiffTestApp, type LiffTestContext, lineUser } from "../liff/helpers.ts";
import { type NotifyHarness, notifyHarness, text } from "../notify/harness.ts";

let t: LiffTestContext;
let h: NotifyHarness;
beforeAll(async () => {
  [t, h] = await Promise.all([buildLiffTestApp(), notifyHarness()]);
});
afterAll(async () => {
  await Promise.all([t?.close(), h?.close()]);
});

describe("GET /dashboard (static page, no auth)", () => {
  for (const path of ["/dashboard", "/dashboard/"]) {
    it(`${path}: HTML with a strict CSP and the usual security headers`, async () => {
      const res = await request(t.app).get(path);
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      const csp = res.headers["content-security-policy"] as string;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["referrer-policy"]).toBe("no-referrer");
      expect(res.headers["cache-control"]).toBe("no-cache");
      // Nothing inline that the CSP would block: every script has a src, no style attributes or <style> blocks.
      expect(res.text).toContain('<script src="/dashboard/app.js" defer></script>');
      expect(res.text).toContain('<script src="/dashboard/vendor/uPlot.iife.min.js" defer></script>');
      expect(res.text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(res.text).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
      expect(res.text).toContain('lang="zh-Hant-TW"');
      // Every form control has a label.
      for (const id of res.text.matchAll(/<input[^>]*\sid="([^"]+)"/g)) {
        if (/type="radio"/.test(id[0])) continue;
        expect(res.text, id[1]).toContain(`for="${id[1]}"`);
      }
    });
  }

  it("serves every script and stylesheet the page names, with their content types; each script parses", async () => {
    const html = (await request(t.app).get("/dashboard")).text;
    const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    // uPlot first, the shared helpers, one file per section, the bootstrap last.
    expect(scripts[0]).toBe("/dashboard/vendor/uPlot.iife.min.js");
    expect(scripts.at(-1)).toBe("/dashboard/app.js");
    expect(scripts.length).toBeGreaterThanOrEqual(10);
    let all = "";
    for (const src of scripts) {
      const js = await request(t.app).get(src);
      expect(js.status, src).toBe(200);
      expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(js.headers["x-content-type-options"]).toBe("nosniff");
      expect(() => new Script(js.text), src).not.toThrow();
      if (!src.includes("/vendor/")) {
        expect(js.text, src).not.toMatch(/\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write/);
        all += js.text;
      }
    }
    expect(all).toContain("sessionStorage");
    expect(all).not.toContain("localStorage");
    for (const href of [...html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((m) => m[1]!)) {
      const css = await request(t.app).get(href);
      expect(css.status, href).toBe(200);
      expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    }
    // Only the page's own files: not the server's sources next to them, nor anything else in node_modules.
    expect((await request(t.app).get("/dashboard/router.ts")).status).toBe(404);
    expect((await request(t.app).get("/dashboard/vendor/uPlot.cjs.js")).status).toBe(404);
  });

  it("unknown files under /dashboard are a JSON 404; the data API still needs the key", async () => {
    const res = await request(t.app).get("/dashboard/secret.json");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
    expect((await request(t.app).get("/api/v1/stats")).status).toBe(401);
  });
});

const stats = (app: LiffTestContext["app"], from: Date, to: Date) =>
  request(app)
    .get(`/api/v1/stats?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`)
    .set(auth());

describe("GET /api/v1/stats: friends", () => {
  const follow = async (ev: unknown) => {
    const body = webhookBody([ev]);
    expect((await request(t.app).post("/webhook").set("content-type", "application/json").set("x-line-signature", sign(body)).send(body)).status).toBe(200);
    await t.app.services.processor.kick();
    await t.app.services.processor.drain();
  };

  it("counts follows and unfollows in [from, to), prompt conversions in the period, and friends now", async () => {
    const [a, b, c, late] = [lineUser(), lineUser(), lineUser(), lineUser()];
    const ms = (d: Date) => d.getTime();
    t.clock.advance(24 * 3600_000);
    const before = t.clock.now();
    await follow(followEvent(c, { timestamp: ms(before) - 3600_000 })); // a friend from before the period
    const base = (await stats(t.app, new Date(ms(before) - 365 * 24 * 3600_000), before)).body.friends.total as number;

    const from = new Date(ms(before) + 1000);
    const to = new Date(ms(from) + 3600_000);
    // a saw the add-friend prompt in the LIFF app, then followed: a conversion. b followed on its own.
    t.clock.set(ms(from) + 1000);
    expect(
      (
        await request(t.app)
          .post("/liff-api/friend-prompts")
          .set(bearer(await t.token(a)))
          .send({ page: "bill" })
      ).status,
    ).toBe(201);
    expect(
      (
        await request(t.app)
          .post("/liff-api/friend-prompts")
          .set(bearer(await t.token(a)))
          .send({ page: "order" })
      ).status,
    ).toBe(201);
    await follow(followEvent(a, { timestamp: ms(from) + 60_000 }));
    await follow(followEvent(b, { timestamp: ms(from) + 120_000 }));
    await follow(unfollowEvent(c, { timestamp: ms(from) + 180_000 }));
    await follow(followEvent(late, { timestamp: ms(to) + 1000 })); // after the period

    const res = await stats(t.app, from, to);
    expect(res.status).toBe(200);
    expect(res.body.friends).toEqual({ total: base - 1 + 3, gainedInPeriod: 2, lostInPeriod: 1, conversionsFromPrompts: 1 });
    // The existing fields are still there.
    expect(res.body).toMatchObject({ total: 0, deliveredLate: 0, fallback: { rate: 0 } });

    const earlier = await stats(t.app, new Date(ms(from) - 3600_000), from);
    expect(earlier.body.friends).toMatchObject({ gainedInPeriod: 0, lostInPeriod: 0, conversionsFromPrompts: 0 });
  });
});

describe("GET /api/v1/stats: funnel", () => {
  it("accepted → sent → delivered by LINE / by SMS / cancelled, through the real API, worker and emulator", async () => {
    h.t.clock.advance(24 * 3600_000);
    const from = h.t.clock.now();
    const friend = await h.member({ bind: true, follow: true });
    const pnpOk = await h.member();
    const noLine = await h.member({ sim: false });
    const cancelled = await h.member();
    for (const m of [friend, pnpOk, noLine]) expect((await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() })).status).toBe(202);
    const c = await h.post({ memberId: cancelled.memberId, scenario: "shipping", urgency: "day", ...text() });
    expect((await request(h.t.app).post(`/api/v1/notifications/${c.body.id}/cancel`).set(auth())).status).toBe(200);

    const mid = await stats(h.t.app, from, new Date(from.getTime() + 3600_000));
    expect(mid.body.funnel).toEqual({ accepted: 4, sent: 0, delivered: 0, smsSent: 0, undelivered: 0, failed: 0, cancelled: 1, pending: 3 });

    await h.run();
    await h.deliveries();
    h.t.clock.advance(60_000);
    const res = await stats(h.t.app, from, h.t.clock.now());
    expect(res.body.funnel).toEqual({ accepted: 4, sent: 3, delivered: 2, smsSent: 1, undelivered: 0, failed: 0, cancelled: 1, pending: 0 });
    expect(res.body.total).toBe(4);
  });
});
