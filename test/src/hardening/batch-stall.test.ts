// Finding 1 (docs/threat-model.md): a client that sends a batch's headers and the start of its body, then stalls,
// must not hold up anyone else: not /readyz, not the API, not a signed webhook, not another client's batch.

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, listen, sign, TEST_API_KEY, type TestContext } from "../helpers/app.ts";
import { followEvent, lineUserId, webhookBody } from "../helpers/events.ts";
import { rawRequest } from "../helpers/raw-http.ts";

let t: TestContext;
let server: Server;
let port: number;
beforeAll(async () => {
  t = await buildTestApp();
  server = await listen(t.app);
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await t.close();
});

const count = async () => Number((await t.db.query<{ n: string }>(sql`select count(*) as n from notifications`))[0]!.n);

/** Opens a batch request and sends only `prefix` of its body (Content-Length says more is coming). */
function stalledBatch(prefix: string, total = 100_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => {
      s.write(
        `POST /api/v1/notifications/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_API_KEY}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${total}\r\n\r\n${prefix}`,
      );
      resolve(s);
    });
    s.on("error", reject);
  });
}

const timed = async <T>(p: PromiseLike<T>): Promise<{ ms: number; value: T }> => {
  const start = performance.now();
  const value = await p;
  return { ms: performance.now() - start, value };
};

const item = (i: number) => ({ phone: `0912${String(100000 + i).padStart(6, "0")}`, scenario: "shipping", urgency: "day", text: `出貨 #${i}` });

describe("a stalled batch upload", () => {
  it("holds up neither readiness, the API, a signed webhook nor another client's batch", async () => {
    const before = await count();
    const slow = await stalledBatch(`{"notifications":[${JSON.stringify(item(0))},`);
    try {
      await new Promise((r) => setTimeout(r, 200)); // the server has read the prefix and is waiting for more
      const ready = await timed(request(server).get("/readyz"));
      expect(ready.value.status).toBe(200);
      const api = await timed(request(server).get("/api/v1/members/nobody").set(auth()));
      expect(api.value.status).toBe(404);
      const body = webhookBody([followEvent(lineUserId())]);
      const hook = await timed(request(server).post("/webhook").set("x-line-signature", sign(body)).set("content-type", "application/json").send(body));
      expect(hook.value.status).toBe(200);
      const other = await timed(
        request(server)
          .post("/api/v1/notifications/batch")
          .set(auth())
          .send({ notifications: [item(1), item(2)] }),
      );
      expect(other.value.status).toBe(202);
      expect(other.value.body.accepted).toBe(2);
      // Each answered as if the stalled upload were not there (it used to wait for the client, 11 s and more).
      for (const x of [ready, api, hook, other]) expect(x.ms).toBeLessThan(3_000);
    } finally {
      slow.destroy();
    }
    // The stalled request, cut off, stored nothing; the other batch's two are there.
    await new Promise((r) => setTimeout(r, 200));
    expect(await count()).toBe(before + 2);
  });

  it("a client that disconnects mid-batch stores nothing and is not logged as an error", async () => {
    const before = await count();
    const linesBefore = t.logs.lines.length;
    const slow = await stalledBatch(`{"notifications":[${JSON.stringify(item(3))},${JSON.stringify(item(4))},`);
    await new Promise((r) => setTimeout(r, 200));
    slow.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(await count()).toBe(before);
    const newLines = t.logs.lines.slice(linesBefore).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(newLines.filter((l) => l.level >= 50)).toEqual([]);
    expect(newLines.some((l) => l.msg === "client closed the request")).toBe(true);
  });
});

describe("encodings of a batch body", () => {
  it("accepts a gzip body", async () => {
    const body = gzipSync(JSON.stringify({ notifications: [item(5), item(6), item(7)] }));
    const res = await rawRequest(server, {
      path: "/api/v1/notifications/batch",
      headers: { ...auth(), "content-type": "application/json", "content-encoding": "gzip" },
      body,
    });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(3);
  });

  it("answers 400 for a body that is not what its Content-Encoding says, 415 for an unknown encoding; stores nothing", async () => {
    const before = await count();
    const bad = await request(t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .set("content-type", "application/json")
      .set("content-encoding", "gzip")
      .send(JSON.stringify({ notifications: [item(8)] }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("bad_request");
    // Found by the fuzz suite: a truncated brotli body failed with a brotli (not zlib) error code, and was a 500.
    const br = await rawRequest(server, {
      path: "/api/v1/notifications/batch",
      headers: { ...auth(), "content-type": "application/json", "content-encoding": "br" },
      body: Buffer.from('{"n'),
    });
    expect(br.status).toBe(400);
    const unknown = await request(t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .set("content-type", "application/json")
      .set("content-encoding", "zstd-ish")
      .send(JSON.stringify({ notifications: [item(9)] }));
    expect(unknown.status).toBe(415);
    expect(await count()).toBe(before);
  });
});
