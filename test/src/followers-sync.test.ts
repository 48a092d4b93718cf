import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createLineApi } from "@oa-notify/server";
import { syncFollowers } from "@oa-notify/server/members/followers-sync.ts";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, sign, type TestContext } from "./helpers/app.ts";
import { pgliteDataDir } from "./helpers/db.ts";
import { lineUserId, unfollowEvent, webhookBody } from "./helpers/events.ts";

/** A local server that speaks LINE's followers API (GET /v2/bot/followers/ids with limit/start → userIds/next). */
function followersServer(userIds: string[], opts: { status?: number; pageSize?: number } = {}) {
  const seen: { limit: string | null; start: string | null; auth: string | undefined }[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    seen.push({ limit: url.searchParams.get("limit"), start: url.searchParams.get("start"), auth: req.headers.authorization });
    res.setHeader("content-type", "application/json");
    if (url.pathname !== "/v2/bot/followers/ids") return res.writeHead(404).end('{"message":"Not found"}');
    if (opts.status) return res.writeHead(opts.status).end('{"message":"Access to this API is not available for your account"}');
    // Pages shorter than `limit` even when more follow, as LINE allows.
    const size = opts.pageSize ?? 3;
    const start = Number(url.searchParams.get("start") ?? "0");
    const page = userIds.slice(start, start + size);
    const next = start + size < userIds.length ? String(start + size) : undefined;
    res.end(JSON.stringify(next ? { userIds: page, next } : { userIds: page }));
  });
  return new Promise<{ server: Server; url: string; seen: typeof seen }>((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`, seen });
    }),
  );
}

let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

describe("followers sync", () => {
  it("pages through every follower and marks them friends", async () => {
    const users = Array.from({ length: 8 }, lineUserId);
    const f = await followersServer(users);
    try {
      const r = await syncFollowers({ db: t.db, line: createLineApi({ baseUrl: f.url, channelAccessToken: "tok-1" }), clock: t.clock });
      expect(r).toMatchObject({ pages: 3, users: 8, updated: 8 });
      expect(f.seen.map((s) => s.start)).toEqual([null, "3", "6"]);
      expect(f.seen.every((s) => s.auth === "Bearer tok-1" && s.limit === "1000")).toBe(true);
      for (const u of users) expect((await request(t.app).get(`/api/v1/line-users/${u}`).set(auth())).body.friend).toBe(true);
    } finally {
      f.server.close();
    }
  });

  it("does not override an unfollow newer than the sync", async () => {
    const u = lineUserId();
    const later = t.clock.now().getTime() + 60_000;
    const body = webhookBody([unfollowEvent(u, { timestamp: later })]);
    await request(t.app).post("/webhook").set("x-line-signature", sign(body)).set("content-type", "application/json").send(body);
    await t.app.services.processor.kick();
    const f = await followersServer([u]);
    try {
      const r = await syncFollowers({ db: t.db, line: createLineApi({ baseUrl: f.url, channelAccessToken: "t" }), clock: t.clock });
      expect(r.updated).toBe(0);
      expect((await request(t.app).get(`/api/v1/line-users/${u}`).set(auth())).body.friend).toBe(false);
    } finally {
      f.server.close();
    }
  });

  it("`pnpm followers:sync` exits non-zero with one clear line on 403 (unverified account)", async () => {
    const f = await followersServer([], { status: 403 });
    const dataDir = pgliteDataDir("sync");
    const serverDir = fileURLToPath(new URL("../../server", import.meta.url));
    try {
      const run = promisify(execFile)(process.execPath, ["--import", "tsx", "src/members/followers-sync.ts"], {
        cwd: serverDir,
        env: { PATH: process.env["PATH"], LINE_API_BASE_URL: f.url, SANDBOX: "1", DATA_DIR: dataDir, LOG_LEVEL: "silent" },
      });
      const err = (await run.then(
        () => null,
        (e: unknown) => e,
      )) as { code: number; stderr: string } | null;
      expect(err).not.toBeNull();
      expect(err!.code).not.toBe(0);
      const lines = err!.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("403");
      expect(lines[0]).toMatch(/verified or premium/);
    } finally {
      f.server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("`pnpm followers:sync` succeeds against a followers API and reports the count", async () => {
    const users = Array.from({ length: 5 }, lineUserId);
    const f = await followersServer(users, { pageSize: 2 });
    const dataDir = pgliteDataDir("sync");
    const serverDir = fileURLToPath(new URL("../../server", import.meta.url));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/members/followers-sync.ts"], {
        cwd: serverDir,
        env: { PATH: process.env["PATH"], LINE_API_BASE_URL: f.url, SANDBOX: "1", DATA_DIR: dataDir, LOG_LEVEL: "silent" },
      });
      expect(stdout).toContain("5 followers in 3 page(s), 5 marked friend");
    } finally {
      f.server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
