// Finding 4 (docs/threat-model.md): a database error is logged without its query parameters (phone numbers, whole
// batch chunks), one line stays short, and nothing in any line reads as a phone number, a JWT or a configured secret.

import { sql } from "@oa-notify/db";
import { scrubLine } from "@oa-notify/server";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, buildTestApp, TEST_API_KEY, TEST_SECRET, type TestContext } from "../helpers/app.ts";

let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const PHONE_RE = /(?:\+886|\b0)9\d{2}-?\d{3}-?\d{3}/;

describe("database errors in the log", () => {
  it("a member upsert the database refuses: 500, and the log has the error but not the phone number", async () => {
    await t.db.query(sql`alter table members add constraint short_name check (length(name) < 5)`);
    try {
      const from = t.logs.lines.length;
      const res = await request(t.app).put("/api/v1/members/m-log-1").set(auth()).send({ phone: "0912345678", name: "a long name" });
      expect(res.status).toBe(500);
      const lines = t.logs.lines.slice(from).join("");
      expect(lines).toContain("unhandled error");
      expect(lines).toContain("short_name"); // the constraint: what an operator needs
      expect(lines).not.toMatch(PHONE_RE);
      expect(lines).not.toContain("912345678");
      expect(lines).not.toContain("params:");
    } finally {
      await t.db.query(sql`alter table members drop constraint short_name`);
    }
  });

  it("a 300-item batch the database refuses: 500, nothing stored, short lines, no phone number", async () => {
    await t.db.query(sql`alter table notifications add constraint no_boom check (content->>'text' is distinct from 'boom')`);
    try {
      const from = t.logs.lines.length;
      const items = Array.from({ length: 300 }, (_, i) => ({
        phone: `0912${300000 + i}`,
        scenario: "shipping",
        urgency: "day",
        text: i === 150 ? "boom" : `第 ${i} 則`,
      }));
      const res = await request(t.app).post("/api/v1/notifications/batch").set(auth()).send({ notifications: items });
      expect(res.status).toBe(500);
      const lines = t.logs.lines.slice(from);
      expect(lines.join("")).toContain("no_boom");
      for (const l of lines) expect(l.length).toBeLessThan(8_000);
      expect(lines.join("")).not.toMatch(PHONE_RE);
      expect(Number((await t.db.query<{ n: string }>(sql`select count(*) as n from notifications`))[0]!.n)).toBe(0);
    } finally {
      await t.db.query(sql`alter table notifications drop constraint no_boom`);
    }
  });
});

describe("the line scrubber", () => {
  it("masks phone numbers to their last 3 digits, removes JWTs and configured secrets", () => {
    const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJVMTIzNDU2Nzg5MCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    const line = `{"a":"+886912345678","b":"0912-345-678","c":"886912345678","d":"${jwt}","e":"${TEST_API_KEY}","id":"5c0912345678a","n":1764115200000}`;
    const out = scrubLine(line, [TEST_API_KEY, TEST_SECRET]);
    expect(out).not.toMatch(PHONE_RE);
    expect(out).toContain("[phone …678]");
    expect(out).not.toContain(jwt);
    expect(out).not.toContain(TEST_API_KEY);
    expect(out).toContain('"id":"5c0912345678a"'); // inside an id: not a phone number
    expect(out).toContain('"n":1764115200000');
  });
});
