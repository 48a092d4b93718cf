/**
 * fast-check arbitraries for the fuzz suite (fuzz.test.ts): requests shaped like the API's and the webhook's schemas
 * (docs/api.md), with hostile mutations mixed in at every level — U+0000 and unpaired surrogates, huge and
 * non-finite numbers, deep nesting, years 0000 and 10000, prototype keys, wrong types, wrong encodings and headers.
 */
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { deliveryEvent, followEvent, lineUserId, postbackEvent, textMessageEvent, ulidLike, unfollowEvent } from "../helpers/events.ts";

// Sentinels replaced in the JSON text after serialising: JSON.stringify cannot write these itself.
const DEEP = "\u0001DEEP\u0001";
const HUGE = "\u0001HUGE\u0001";
const DEEP_TEXT = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;

/** JSON text of a value, with the sentinels turned into 5,000 levels of nesting and `1e400`. */
export function toJson(v: unknown): string {
  return JSON.stringify(v).split(JSON.stringify(DEEP)).join(DEEP_TEXT).split(JSON.stringify(HUGE)).join("1e400");
}

const hostileString = fc.constantFrom(
  "a\u0000b",
  "\ud800",
  "x\udc00y",
  "😀\ud83d",
  "x".repeat(6000),
  "__proto__",
  "constructor",
  "<script>alert(1)</script>",
  "javascript:alert(1)",
  "0000-01-01T00:00:00Z",
  "10000-01-01T00:00:00Z",
  "%00",
  "' or 1=1 --",
  "",
);
const str = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 10 }) },
  { weight: 3, arbitrary: hostileString },
);
const hostileNumber = fc.constantFrom<unknown>(HUGE, 1e308, -1e308, 2 ** 53 + 1, -1, 0.001, 1e-300, 9_999_999_999.99, 10_000_000_000);
const num = fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }), hostileNumber);
const hostileLeaf: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constant(DEEP),
  fc.constant(null),
  fc.constant(true),
  fc.constant([]),
  fc.constant({}),
);
/** A value of any shape, prototype keys included. */
const anything: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    hostileLeaf,
    str,
    num,
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom("__proto__", "constructor", "prototype", "toString", "a"), str), tie("v"), { maxKeys: 3 }),
  ),
})).v;

/** Usually the valid value, sometimes something hostile in its place. */
const orHostile = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: 2, arbitrary: hostileLeaf }, { weight: 1, arbitrary: anything });

const phone = fc.constantFrom("0912345678", "+886 912 345 678", "886912345678", "0912-000-111", "+81 90-1234-5678", "02-2345-6789", "12", "0912\u0000345678");
export const externalIdArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._:@-]{1,20}$/),
  hostileString,
  fc.constantFrom("..", "%2e%2e", "a/b", "a%00b", "%ED%A0%80", "x".repeat(200)),
);
const isoDate = fc.oneof(
  fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-14:00",
    "+010000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-11-26",
    "tomorrow",
  ),
);
const message = fc.oneof(
  fc.record({ type: fc.constant("text"), text: orHostile(str) }),
  fc.record({ type: fc.constantFrom("flex"), altText: orHostile(str), contents: anything }),
  fc.record({ type: orHostile(fc.constantFrom("image", "sticker", "x".repeat(50))), originalContentUrl: str }),
);
const notification = fc.record(
  {
    memberId: orHostile(externalIdArb),
    phone: orHostile(phone),
    scenario: orHostile(fc.constantFrom("shipping", "billing", "otp", "promotion", "Bad Scenario")),
    urgency: orHostile(fc.constantFrom("minutes", "hour", "day", "days", "soon")),
    text: orHostile(str),
    messages: orHostile(fc.array(message, { maxLength: 6 })),
    template: orHostile(fc.record({ templateKey: orHostile(fc.constantFrom("bill_v1", "x y")), body: anything }, { requiredKeys: ["templateKey"] })),
    nextStep: orHostile(fc.record({ type: orHostile(fc.constantFrom("order", "bill")), id: orHostile(externalIdArb) })),
    sms: orHostile(fc.record({ text: orHostile(str), afterSeconds: orHostile(num) }, { requiredKeys: [] })),
    idempotencyKey: orHostile(str),
    __proto__: anything,
  },
  { requiredKeys: [] },
);
const member = fc.record({ phone: orHostile(phone), name: orHostile(str), extra: anything }, { requiredKeys: [] });
const bill = fc.record(
  {
    memberId: orHostile(externalIdArb),
    status: orHostile(fc.constantFrom("unpaid", "paid")),
    amountTwd: orHostile(num),
    dueAt: orHostile(isoDate),
    issuedAt: orHostile(isoDate),
    paymentUrl: orHostile(fc.constantFrom("https://pay.example.com/1", "javascript:alert(1)")),
    detail: anything,
    items: anything,
  },
  { requiredKeys: [] },
);
const order = fc.record(
  {
    memberId: orHostile(externalIdArb),
    status: orHostile(fc.constantFrom("paid", "shipped")),
    items: orHostile(fc.array(fc.record({ name: orHostile(str), quantity: orHostile(num), unitPriceTwd: orHostile(num) }), { maxLength: 3 })),
    amountTwd: orHostile(num),
    orderedAt: orHostile(isoDate),
    detail: anything,
  },
  { requiredKeys: [] },
);

export type Encoding = "identity" | "gzip" | "deflate" | "br" | "gzip-lie" | "br-lie" | "bogus";
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** what the case is, for a failure's message */
  label: string;
}

const encode = (text: string, enc: Encoding): { body: Buffer; header: string | null } => {
  const raw = Buffer.from(text, "utf8");
  switch (enc) {
    case "gzip":
      return { body: gzipSync(raw), header: "gzip" };
    case "deflate":
      return { body: deflateSync(raw), header: "deflate" };
    case "br":
      return { body: brotliCompressSync(raw), header: "br" };
    case "gzip-lie":
      return { body: raw, header: "gzip" };
    case "br-lie":
      return { body: raw.subarray(0, 3), header: "br" };
    case "bogus":
      return { body: raw, header: "x-bogus" };
    default:
      return { body: raw, header: null };
  }
};
const encoding = fc.constantFrom<Encoding>("identity", "identity", "identity", "identity", "gzip", "deflate", "br", "gzip-lie", "br-lie", "bogus");
const contentType = fc.constantFrom(
  "application/json",
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/json; charset=latin1",
  "",
);
// encodeURIComponent throws on an unpaired surrogate: send its (invalid) UTF-8 bytes instead, as a client could.
const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return `${encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ""))}%ED%A0%80`;
  }
};
const pathSegment = externalIdArb.map((s) => (/%/.test(s) ? s : enc(s)));
const query = (keys: string[]) =>
  fc
    .array(fc.tuple(fc.constantFrom(...keys, "__proto__", "x"), fc.oneof(str, isoDate)), { maxLength: 3 })
    .map((kv) => kv.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&"));

/** A request with a JSON-ish body to one of the API's write routes, or a read route with a hostile path or query. */
export function apiRequest(apiKey: string): fc.Arbitrary<FuzzRequest> {
  const withBody = (method: string, path: fc.Arbitrary<string>, body: fc.Arbitrary<unknown>, label: string) =>
    fc
      .record({
        path,
        body,
        enc: encoding,
        ct: contentType,
        idem: fc.option(str, { nil: undefined }),
        auth: fc.constantFrom("key", "key", "key", "key", "none", "wrong"),
      })
      .map(({ path: p, body: b, enc, ct, idem, auth }) => {
        const { body: bytes, header } = encode(toJson(b), enc);
        const headers: Record<string, string> = {};
        if (ct) headers["content-type"] = ct;
        if (header) headers["content-encoding"] = header;
        if (auth === "key") headers["authorization"] = `Bearer ${apiKey}`;
        if (auth === "wrong") headers["authorization"] = `Bearer ${apiKey}x`;
        if (idem !== undefined && /^[\x20-\x7e]*$/.test(idem)) headers["idempotency-key"] = idem;
        return { method, path: p, headers, body: bytes, label: `${label} ${enc}` };
      });
  const read = (path: fc.Arbitrary<string>, label: string) =>
    path.map((p) => ({ method: "GET", path: p, headers: { authorization: `Bearer ${apiKey}` }, label }));
  return fc.oneof(
    withBody("POST", fc.constant("/api/v1/notifications"), notification, "notification"),
    withBody("POST", fc.constant("/api/v1/notifications/batch"), fc.record({ notifications: orHostile(fc.array(notification, { maxLength: 5 })) }), "batch"),
    withBody(
      "PUT",
      pathSegment.map((s) => `/api/v1/members/${s}`),
      member,
      "member",
    ),
    withBody(
      "PUT",
      pathSegment.map((s) => `/api/v1/bills/${s}`),
      bill,
      "bill",
    ),
    withBody(
      "PUT",
      pathSegment.map((s) => `/api/v1/orders/${s}`),
      order,
      "order",
    ),
    read(
      query(["memberId", "limit", "batchId", "status", "channel", "scenario", "phone", "from", "to", "cursor"]).map((q) => `/api/v1/notifications?${q}`),
      "list",
    ),
    read(
      query(["from", "to", "format", "phone"]).map((q) => `/api/v1/notifications/export?${q}`),
      "export",
    ),
    read(
      pathSegment.map((s) => `/api/v1/batches/${s}`),
      "batch",
    ),
    read(
      query(["status", "kind", "notificationId", "limit", "cursor"]).map((q) => `/api/v1/webhook-deliveries?${q}`),
      "deliveries",
    ),
    read(
      query(["from", "to"]).map((q) => `/api/v1/stats?${q}`),
      "stats",
    ),
    read(
      pathSegment.map((s) => `/api/v1/notifications/${s}`),
      "get notification",
    ),
    read(
      pathSegment.map((s) => `/api/v1/members/${s}`),
      "get member",
    ),
    read(
      pathSegment.map((s) => `/n/${s}`),
      "short link",
    ),
    read(
      pathSegment.map((s) => `/N/${s}`),
      "short link upper case",
    ),
  );
}

/** A LIFF API request with a valid ID token (made by the caller) and a hostile body. */
export const liffRequest = fc
  .oneof(
    fc.record({ path: fc.constant("/liff-api/otp"), body: fc.record({ phone: orHostile(phone) }, { requiredKeys: [] }) }),
    fc.record({
      path: fc.constant("/liff-api/bindings"),
      body: fc.record(
        { phone: orHostile(phone), otp: orHostile(fc.constantFrom("123456", "12345a")), consent: anything, bindingToken: orHostile(str) },
        { requiredKeys: [] },
      ),
    }),
    fc.record({
      path: fc.constant("/liff-api/friend-prompts"),
      body: fc.record({ viewToken: orHostile(str), page: orHostile(fc.constantFrom("bill", "order")) }, { requiredKeys: [] }),
    }),
  )
  .chain((r) => fc.record({ enc: encoding, ct: contentType }).map(({ enc, ct }) => ({ ...r, enc, ct })));

export { encode };

// ------------------------------------------------------------------------------------------------ webhook

/** A valid LINE event (webhook.yml shapes) for a fresh user. */
export const validEvent = fc.constantFrom("follow", "unfollow", "message", "postback", "delivery").map((k) => {
  const u = lineUserId();
  return k === "follow"
    ? followEvent(u)
    : k === "unfollow"
      ? unfollowEvent(u)
      : k === "message"
        ? textMessageEvent(u, "您好")
        : k === "postback"
          ? postbackEvent(u, "a=1")
          : deliveryEvent(`oan${ulidLike()}`);
});

/** A valid event with one hostile change. */
export const hostileEvent = fc
  .tuple(
    validEvent,
    fc.constantFrom("timestamp", "text", "type", "id", "deep", "proto", "source", "huge"),
    fc.oneof(hostileLeaf, fc.constantFrom(253402300800000, -62135596800001, 8.64e15 + 1, "1764115200000")),
    hostileString,
  )
  .map(([e, where, leaf, s]) => {
    const ev: Record<string, unknown> = { ...e };
    if (where === "timestamp") ev["timestamp"] = leaf;
    if (where === "text") ev["message"] = { id: "1", type: "text", text: s };
    if (where === "type") ev["type"] = typeof leaf === "string" ? leaf : s;
    if (where === "id") ev["webhookEventId"] = leaf;
    if (where === "deep") ev["extra"] = DEEP;
    if (where === "proto") Object.defineProperty(ev, "__proto__", { value: { polluted: true }, enumerable: true });
    if (where === "source") ev["source"] = { type: "user", userId: s };
    if (where === "huge") ev["timestamp"] = HUGE;
    return ev;
  });
