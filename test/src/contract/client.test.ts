import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@oa-notify/client";
import { runStatsCli } from "@oa-notify/server/dashboard/cli.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, listen, TEST_API_KEY, type TestContext } from "../helpers/app.ts";
import { randomPhone } from "../notify/harness.ts";

/**
 * @oa-notify/client (generated from the served OpenAPI document) against a real server on loopback: it creates,
 * batches, reads and cancels notifications; a read-only key reads through it and is refused writes.
 */
const READONLY_KEY = "client-read-only-key-0123";
let t: TestContext;
let server: Server;
let baseUrl: string;
beforeAll(async () => {
  t = await buildTestApp({ env: { API_KEYS_READONLY: READONLY_KEY } });
  server = await listen(t.app);
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  await t?.close();
});

describe("@oa-notify/client", () => {
  it("creates, batches, lists, pages, exports and cancels notifications against a real server", async () => {
    const api = createClient({ baseUrl: `${baseUrl}/`, apiKey: TEST_API_KEY });
    const memberId = "client-member-1";
    const put = await api.PUT("/api/v1/members/{memberId}", { params: { path: { memberId } }, body: { phone: randomPhone().local, name: "陳小姐" } });
    expect([put.response.status, put.data?.memberId]).toEqual([201, memberId]);

    const created = await api.POST("/api/v1/notifications", {
      params: { header: { "Idempotency-Key": "client-test-1" } },
      body: { memberId, scenario: "payment", urgency: "day", text: "您的付款已完成 Your payment is complete" },
    });
    expect(created.response.status).toBe(202);
    const id = created.data!.id;
    const again = await api.POST("/api/v1/notifications", {
      params: { header: { "Idempotency-Key": "client-test-1" } },
      body: { memberId, scenario: "payment", urgency: "day", text: "您的付款已完成 Your payment is complete" },
    });
    expect([again.response.status, again.data?.id]).toEqual([200, id]);

    const batch = await api.POST("/api/v1/notifications/batch", {
      body: {
        notifications: [
          { memberId, scenario: "shipping", urgency: "day", text: "已出貨 shipped" },
          { memberId, scenario: "shipping", urgency: "day", messages: [{ type: "text", text: "已送達 delivered" }] },
          // @ts-expect-error the client's types are LINE's: a sticker needs packageId (so does the server, at run time)
          { memberId, scenario: "shipping", urgency: "day", messages: [{ type: "sticker", stickerId: "52002734" }] },
        ],
      },
    });
    expect(batch.response.status).toBe(202);
    expect([batch.data!.accepted, batch.data!.rejected]).toEqual([2, 1]);
    const refused = batch.data!.results[2]!;
    expect("error" in refused && [refused.error.code, refused.error.message]).toEqual([
      "unprocessable",
      "notifications.2.messages.0.packageId: Must not be empty",
    ]);

    const got = await api.GET("/api/v1/notifications/{id}", { params: { path: { id } } });
    expect([got.data?.id, got.data?.status, got.data?.timeline[0]?.state]).toEqual([id, "accepted", "accepted"]);
    const list = await api.GET("/api/v1/notifications", { params: { query: { memberId } } });
    expect(list.data?.notifications).toHaveLength(3);
    // Pages of 2 with the keyset cursor: every notice once, newest first, then no next page.
    const page1 = await api.GET("/api/v1/notifications", { params: { query: { memberId, limit: 2 } } });
    const page2 = await api.GET("/api/v1/notifications", { params: { query: { memberId, limit: 2, cursor: page1.data!.nextCursor! } } });
    expect([page1.data!.notifications.length, page2.data!.notifications.length, page2.data!.nextCursor]).toEqual([2, 1, null]);
    expect([...page1.data!.notifications, ...page2.data!.notifications].map((n) => n.id).sort()).toEqual(list.data!.notifications.map((n) => n.id).sort());
    const batchProgress = await api.GET("/api/v1/batches/{id}", { params: { path: { id: batch.data!.batchId } } });
    expect([batchProgress.data?.total, batchProgress.data?.byStatus.accepted]).toEqual([2, 2]);
    // The CSV export, through the same client: a BOM, a header and one line per notice, phones masked.
    const csv = await api.GET("/api/v1/notifications/export", { params: { query: { memberId } }, parseAs: "arrayBuffer" });
    expect(csv.response.headers.get("content-type")).toMatch(/^text\/csv/);
    const bytes = Buffer.from(csv.data as ArrayBuffer);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // fetch's text() would strip the BOM
    const lines = bytes.subarray(3).toString("utf8").split("\r\n").filter(Boolean);
    expect(lines).toHaveLength(4);
    expect(lines.slice(1).every((l) => /\*{5}\d{3}/.test(l) && !/09\d{8}|\+8869\d{8}/.test(l))).toBe(true);

    const cancelled = await api.POST("/api/v1/notifications/{id}/cancel", { params: { path: { id } } });
    expect([cancelled.response.status, cancelled.data?.cancelled, cancelled.data?.status]).toEqual([200, "notification", "cancelled"]);
    const missing = await api.GET("/api/v1/notifications/{id}", { params: { path: { id: "00000000-0000-4000-8000-000000000000" } } });
    expect([missing.response.status, missing.error?.error.code]).toEqual([404, "not_found"]);
  });

  it("a read-only key reads and is refused every write with 403 forbidden, storing nothing", async () => {
    const ro = createClient({ baseUrl, apiKey: READONLY_KEY });
    const stats = await ro.GET("/api/v1/stats", {});
    expect(stats.response.status).toBe(200);
    const before = stats.data!.total;
    const post = await ro.POST("/api/v1/notifications", { body: { phone: randomPhone().local, scenario: "otp", urgency: "minutes", text: "123456" } });
    expect([post.response.status, post.error?.error.code]).toEqual([403, "forbidden"]);
    const put = await ro.PUT("/api/v1/members/{memberId}", { params: { path: { memberId: "ro-member" } }, body: { phone: randomPhone().local } });
    expect(put.response.status).toBe(403);
    expect((await ro.GET("/api/v1/members/{memberId}", { params: { path: { memberId: "ro-member" } } })).response.status).toBe(404);
    expect((await ro.GET("/api/v1/stats", {})).data!.total).toBe(before);
  });

  it("pnpm stats works with a read-only key (through the client)", async () => {
    const lines: string[] = [];
    const code = await runStatsCli(["30d"], { fetch, out: (l) => lines.push(l), now: () => t.clock.now(), baseUrl, apiKey: READONLY_KEY });
    expect(code).toBe(0);
    expect(lines.join("\n")).toContain("已受理 accepted");
    const bad: string[] = [];
    expect(await runStatsCli([], { fetch, out: (l) => bad.push(l), now: () => t.clock.now(), baseUrl, apiKey: "no-such-key-000000" })).toBe(1);
    expect(bad.join("\n")).toContain("401");
  });
});
