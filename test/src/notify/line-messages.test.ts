import { sql } from "@oa-notify/db";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, type TestContext } from "../helpers/app.ts";
import { randomPhone } from "./harness.ts";

/**
 * LINE message objects are checked at acceptance against LINE's own OpenAPI schema (lib/line/messages.ts): a message
 * LINE would refuse is a 422 naming its JSON path, and nothing is stored; URI actions open only http(s), line:, tel:.
 */
let t: TestContext;
let phone: string;
beforeAll(async () => {
  t = await buildTestApp();
  phone = randomPhone().local;
});
afterAll(async () => {
  await t?.close();
});

const stored = async () => Number((await t.db.query<{ n: string | number }>(sql`select count(*) as n from notifications`))[0]!.n);
const send = (messages: unknown[]) => request(t.app).post("/api/v1/notifications").set(auth()).send({ phone, scenario: "shipping", urgency: "day", messages });
const uriButton = (uri: string) => ({
  type: "template",
  altText: "訂單 order",
  template: { type: "buttons", text: "查看訂單 See your order", actions: [{ type: "uri", label: "查看 See", uri }] },
});

describe("LINE messages at acceptance", () => {
  it("refuses what LINE would refuse with 422 naming the path, storing nothing", async () => {
    const before = await stored();
    const cases: [unknown[], string, string][] = [
      [[{ type: "sticker", stickerId: "52002734" }], "body.messages.0.packageId", "Must not be empty"],
      [
        [
          { type: "text", text: "ok" },
          { type: "image", originalContentUrl: "https://x.example/a.jpg" },
        ],
        "body.messages.1.previewImageUrl",
        "Must not be empty",
      ],
      [
        [{ type: "hologram" }],
        "body.messages.0.type",
        "Invalid value. Must be one of: text, textV2, sticker, image, video, audio, location, imagemap, template, flex, coupon",
      ],
      [
        [{ type: "flex", altText: "a", contents: { type: "bubble", body: { type: "box", layout: "diagonal", contents: [] } } }],
        "body.messages.0.contents.body.layout",
        "Invalid value. Must be one of: horizontal, vertical, baseline",
      ],
    ];
    for (const [messages, field, message] of cases) {
      const res = await send(messages);
      expect([res.status, res.body.error.code, res.body.error.details[0]]).toEqual([422, "unprocessable", { field, message }]);
      expect(res.body.error.message).toBe(`${field}: ${message}`);
    }
    expect(await stored()).toBe(before);
  });

  it("URI actions: http(s), line: and tel: pass; javascript:, data: and others are refused", async () => {
    for (const uri of ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "intent://x"]) {
      const res = await send([uriButton(uri)]);
      // Our scheme rule always speaks; LINE's `format: uri` may also (`data:…<b>` is no valid URI at all).
      expect([uri, res.status, res.body.error?.details]).toEqual([
        uri,
        422,
        expect.arrayContaining([{ field: "body.messages.0.template.actions.0.uri", message: "a URI action may open only http(s)://, line: or tel: links" }]),
      ]);
    }
    for (const uri of ["https://shop.example/orders/1", "http://shop.example/", "line://ti/p/@sandbox-oa", "tel:0223456789"]) {
      const res = await send([uriButton(uri)]);
      expect([uri, res.status]).toEqual([uri, 202]);
    }
  });

  it("a batch reports the refused item with 422's code and accepts the others", async () => {
    const res = await request(t.app)
      .post("/api/v1/notifications/batch")
      .set(auth())
      .send({
        notifications: [
          { phone, scenario: "shipping", urgency: "day", messages: [{ type: "text", text: "好 fine" }] },
          { phone, scenario: "shipping", urgency: "day", messages: [{ type: "sticker", packageId: "1" }] },
        ],
      });
    expect([res.status, res.body.accepted, res.body.rejected]).toEqual([202, 1, 1]);
    expect(res.body.results[1].error).toEqual({
      code: "unprocessable",
      message: "notifications.1.messages.0.stickerId: Must not be empty",
      details: [{ field: "notifications.1.messages.0.stickerId", message: "Must not be empty" }],
    });
  });
});
