import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHttpSmsProvider } from "@oa-notify/server/lib/sms/http.ts";
import { createMitakeSmsProvider, mitakeNumber, parseMitakeResponse } from "@oa-notify/server/lib/sms/mitake.ts";
import { SmsRejectedError, SmsRetryableError } from "@oa-notify/server/lib/sms/types.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIN, type NotifyHarness, notifyHarness, text } from "./harness.ts";

/** A real HTTP SMS gateway on loopback whose answers the test scripts. */
interface Gateway {
  url: string;
  received: { headers: IncomingMessage["headers"]; body: string; url: string }[];
  answers: ((res: ServerResponse) => void)[];
  close(): Promise<void>;
}
async function gateway(defaultAnswer: (res: ServerResponse) => void): Promise<Gateway> {
  const g = { received: [], answers: [] } as unknown as Gateway;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      g.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), url: req.url ?? "" });
      (g.answers.shift() ?? defaultAnswer)(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  g.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`;
  g.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return g;
}
const ok = (res: ServerResponse) => res.writeHead(202, { "content-type": "application/json" }).end('{"id":"gw-1"}');

let http: Gateway;
let mitake: Gateway;
beforeAll(async () => {
  http = await gateway(ok);
  mitake = await gateway((res) => res.writeHead(200, { "content-type": "text/plain" }).end("[1]\r\nmsgid=1010079522\r\nstatuscode=1\r\nAccountPoint=98\r\n"));
});
afterAll(async () => {
  await http.close();
  await mitake.close();
});

describe("http provider (docs/api.md)", () => {
  it("POSTs {to,text,reference} signed with a hex HMAC-SHA256 of the exact body", async () => {
    const p = createHttpSmsProvider({ url: http.url, secret: "s3cret" });
    const r = await p.send({ to: "+886912345678", text: "您好 hello", reference: "n-1" });
    expect(r.providerReference).toBe("gw-1");
    const got = http.received.at(-1)!;
    expect(JSON.parse(got.body)).toEqual({ to: "+886912345678", text: "您好 hello", reference: "n-1" });
    expect(got.headers["x-signature"]).toBe(createHmac("sha256", "s3cret").update(got.body).digest("hex"));
  });

  it("5xx/429 are retryable, other 4xx are rejections, a refused connection is retryable", async () => {
    const p = createHttpSmsProvider({ url: http.url, secret: "s" });
    http.answers.push((res) => res.writeHead(503).end());
    await expect(p.send({ to: "+886912345678", text: "x", reference: "r" })).rejects.toBeInstanceOf(SmsRetryableError);
    http.answers.push((res) => res.writeHead(400).end("bad number"));
    await expect(p.send({ to: "+886912345678", text: "x", reference: "r" })).rejects.toBeInstanceOf(SmsRejectedError);
    const spare = createServer();
    await new Promise<void>((r) => spare.listen(0, "127.0.0.1", r));
    const port = (spare.address() as AddressInfo).port;
    await new Promise<void>((r) => spare.close(() => r()));
    const closed = createHttpSmsProvider({ url: `http://127.0.0.1:${port}/sms`, secret: "s" });
    await expect(closed.send({ to: "+886912345678", text: "x", reference: "r" })).rejects.toBeInstanceOf(SmsRetryableError);
  });
});

describe("mitake provider", () => {
  it("sends the SmSend form with clientid = reference and UTF-8, and reads statuscode", async () => {
    const p = createMitakeSmsProvider({ url: mitake.url, username: "u", password: "p" });
    const r = await p.send({ to: "+886912345678", text: "帳單通知", reference: "0b9f3c1e-aaaa-4bbb-8ccc-123456789abc" });
    expect(r.providerReference).toBe("1010079522");
    const got = mitake.received.at(-1)!;
    expect(got.url).toContain("CharsetURL=UTF8");
    const form = new URLSearchParams(got.body);
    expect(Object.fromEntries(form)).toEqual({
      username: "u",
      password: "p",
      dstaddr: "0912345678",
      smbody: "帳單通知",
      clientid: "0b9f3c1e-aaaa-4bbb-8ccc-123456789abc",
    });
    expect(p.dedupesOnReference).toBe(true);
  });

  it("maps account errors to rejections and service stops to retries", async () => {
    const p = createMitakeSmsProvider({ url: mitake.url, username: "u", password: "p" });
    mitake.answers.push((res) => res.writeHead(200).end("[1]\nstatuscode=e\nError=帳號密碼錯誤\n"));
    await expect(p.send({ to: "+886912345678", text: "x", reference: "r" })).rejects.toBeInstanceOf(SmsRejectedError);
    mitake.answers.push((res) => res.writeHead(200).end("[1]\nstatuscode=*\n"));
    await expect(p.send({ to: "+886912345678", text: "x", reference: "r" })).rejects.toBeInstanceOf(SmsRetryableError);
  });

  it("parses responses and numbers", () => {
    expect(parseMitakeResponse("[1]\nmsgid=#000000001\nstatuscode=1\nDuplicate=Y\n")).toMatchObject({ msgid: "#000000001", statuscode: "1", duplicate: true });
    expect(mitakeNumber("+886912345678")).toBe("0912345678");
    expect(mitakeNumber("+818012345678")).toBe("818012345678");
  });
});

describe("the worker with a real SMS gateway", () => {
  let h: NotifyHarness;
  beforeAll(async () => {
    h = await notifyHarness();
  });
  afterAll(async () => h?.close());

  it("retries a gateway 5xx and sends exactly one SMS", async () => {
    const w = h.newWorker({}, createHttpSmsProvider({ url: http.url, secret: "s" }));
    const m = await h.member({ sim: false });
    const before = http.received.length;
    http.answers.push((res) => res.writeHead(500).end());
    const res = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", ...text("code 1") });
    await w.runUntilIdle();
    expect((await h.get(res.body.id)).status).toBe("queued");
    h.t.clock.advance(20 * MIN);
    await w.runUntilIdle();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    const mine = http.received.slice(before).filter((r) => JSON.parse(r.body).reference === res.body.id);
    expect(mine).toHaveLength(2); // the 500, then the accepted one
  });

  it("an SMS call with no answer is never repeated by a provider that does not dedupe", async () => {
    const w = h.newWorker({}, createHttpSmsProvider({ url: http.url, secret: "s", timeoutMs: 300 }));
    const m = await h.member({ sim: false });
    const before = http.received.length;
    http.answers.push(() => {
      /* never answers */
    });
    const res = await h.post({ memberId: m.memberId, scenario: "otp", urgency: "minutes", ...text("code 2") });
    await w.runUntilIdle();
    h.t.clock.advance(20 * MIN);
    await w.runUntilIdle();
    const n = await h.get(res.body.id);
    expect(n.status).toBe("sms_sent");
    expect(n.timeline.at(-1).detail.ambiguous).toBe(true);
    expect(http.received.slice(before).filter((r) => JSON.parse(r.body).reference === res.body.id)).toHaveLength(1);
  });
});
