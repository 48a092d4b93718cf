import { rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createDb, sql } from "@oa-notify/db";
import { describe, expect, it } from "vitest";
import { sign } from "./helpers/app.ts";
import { pgliteDataDir } from "./helpers/db.ts";
import { followEvent, lineUserId, webhookBody } from "./helpers/events.ts";
import { builtServerEntry, freePort, startServerProcess } from "./helpers/process.ts";

describe("graceful shutdown", () => {
  it("on SIGTERM finishes an in-flight webhook, stores its event, closes the database and exits 0 (the production bundle)", async () => {
    const dataDir = pgliteDataDir("shutdown");
    const secret = "shutdown-secret";
    const srv = await startServerProcess(
      {
        DATA_DIR: dataDir,
        SANDBOX: "1",
        LINE_CHANNEL_SECRET: secret,
        SANDBOX_LINE_PORT: String(await freePort()),
        LOG_LEVEL: "info",
      },
      builtServerEntry(),
    );
    const e = followEvent(lineUserId());
    const body = webhookBody([e]);
    const { port } = new URL(srv.url);

    // Open a webhook request and send only half its body, so it is in flight when SIGTERM arrives.
    const response = new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/webhook",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-line-signature": sign(body, secret) },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, 20));
      setTimeout(() => {
        srv.child.kill("SIGTERM");
        setTimeout(() => req.end(body.slice(20)), 300);
      }, 200);
    });
    expect(await response).toBe(200);
    const { code } = await srv.exited;
    expect(code).toBe(0);
    expect(srv.output()).toContain("shutting down");

    // New connections are refused once it is down, and the event it acknowledged is on disk.
    await expect(fetch(`${srv.url}/healthz`)).rejects.toThrow();
    const db = await createDb({ dataDir });
    try {
      const rows = await db.query<{ n: number }>(sql`select count(*)::int as n from webhook_events where webhook_event_id = ${e.webhookEventId}`);
      expect(rows[0]!.n).toBe(1);
    } finally {
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
