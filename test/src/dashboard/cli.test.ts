import { execFile } from "node:child_process";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { parseArgs, runStatsCli, taipeiPeriod } from "@oa-notify/server/dashboard/cli.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, TEST_API_KEY } from "../helpers/app.ts";
import { serverDir } from "../helpers/process.ts";
import { type NotifyHarness, notifyHarness, text } from "../notify/harness.ts";

let h: NotifyHarness;
let server: Server;
let url: string;
beforeAll(async () => {
  h = await notifyHarness();
  server = await listen(h.t.app);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  await h?.close();
});

/** runStatsCli over real HTTP to the app, output captured. */
async function cli(argv: string[], apiKey = TEST_API_KEY) {
  const lines: string[] = [];
  const code = await runStatsCli(argv, { fetch, out: (l) => lines.push(l), now: () => h.t.clock.now(), baseUrl: url, apiKey });
  return { code, text: lines.join("\n") };
}

/** Two notices in a fresh hour of the manual clock: push to a friend, PNP → LINE 422 → SMS for an unknown number. */
async function scenario() {
  h.t.clock.advance(24 * 3600_000);
  const from = h.t.clock.now().toISOString();
  const friend = await h.member({ bind: true, follow: true });
  const noLine = await h.member({ sim: false });
  for (const m of [friend, noLine]) expect((await h.post({ memberId: m.memberId, scenario: "shipping", urgency: "day", ...text() })).status).toBe(202);
  await h.run();
  await h.deliveries();
  h.t.clock.advance(60_000);
  return { from, to: h.t.clock.now().toISOString(), friend, noLine };
}

const row = (out: string, label: string) =>
  out
    .split("\n")
    .find((l) => l.includes(label))
    ?.trim()
    .split(/\s{2,}/);

describe("pnpm stats", () => {
  it("prints the funnel, channels, NT$ against all-SMS and friends for a period", async () => {
    const s = await scenario();
    const { code, text: out } = await cli(["--from", s.from, "--to", s.to]);
    expect(code).toBe(0);
    expect(row(out, "已受理 accepted")?.slice(1)).toEqual(["2", "100.0%"]);
    expect(row(out, "LINE 已送達 delivered by LINE")?.slice(1)).toEqual(["1", "50.0%"]);
    expect(row(out, "簡訊 sent by SMS")?.slice(1)).toEqual(["1", "50.0%"]);
    expect(row(out, "處理中 in progress")?.slice(1)).toEqual(["0", "0.0%"]);
    expect(row(out, "簡訊備援率 fallback rate")?.slice(1)).toEqual(["50.0%", "(1/2)"]);
    const p = h.t.config.prices;
    expect(row(out, "合計 total spent")?.[1]).toBe(`NT$${(p.push + p.sms).toFixed(2)}`);
    expect(row(out, "若全部用簡訊 had all gone by SMS")?.[1]).toBe(`NT$${(2 * p.sms).toFixed(2)}`);
    expect(row(out, "期間新增好友 gained in period")?.[1]).toBe("1");

    const json = await cli(["--from", s.from, "--to", s.to, "--json"]);
    expect(JSON.parse(json.text).funnel).toMatchObject({ accepted: 2, delivered: 1, smsSent: 1 });
  });

  it("--member explains why a member got an SMS, from the fallback reason in the timeline", async () => {
    const s = await scenario();
    const { code, text: out } = await cli(["--member", s.noLine.memberId]);
    expect(code).toBe(0);
    expect(out).toContain(`會員 member ${s.noLine.memberId}: 最近 1 則 latest, 1 則發了簡訊 sent by SMS`);
    expect(out).toMatch(/why SMS: LINE 422/);
    expect(out).toMatch(/timeline: .*fallback_sms → .*sms_sent/);
    const friend = await cli(["--member", s.friend.memberId]);
    expect(friend.text).toContain("0 則發了簡訊");
    expect(friend.text).not.toContain("why SMS");
  });

  it("a refused key, a bad argument and an unreachable server: a clear line and a non-zero exit", async () => {
    expect(await cli(["today"], "wrong-key")).toMatchObject({ code: 1, text: expect.stringContaining("401") });
    expect(await cli(["--bogus"])).toMatchObject({ code: 2, text: expect.stringContaining("unknown argument: --bogus") });
    expect(await cli(["--member"])).toMatchObject({ code: 2, text: expect.stringContaining("--member needs a value") });
    const lines: string[] = [];
    const code = await runStatsCli([], { fetch, out: (l) => lines.push(l), now: () => new Date(), baseUrl: "http://127.0.0.1:9", apiKey: "k" });
    expect(code).toBe(1);
    expect(lines.join("\n")).toContain("無法連線 cannot reach http://127.0.0.1:9");
  });

  it("periods are Asia/Taipei calendar days, today included", () => {
    const now = new Date("2026-11-26T17:30:00Z"); // 01:30 on the 27th in Taipei
    expect(taipeiPeriod(1, now)).toEqual({ from: new Date("2026-11-26T16:00:00Z"), to: new Date("2026-11-27T16:00:00Z") });
    expect(taipeiPeriod(7, now).from).toEqual(new Date("2026-11-20T16:00:00Z"));
    expect(taipeiPeriod(1, new Date("2026-11-26T15:59:59Z")).from).toEqual(new Date("2026-11-25T16:00:00Z"));
    expect(parseArgs(["30d", "--json"])).toEqual({ days: 30, json: true });
    expect(parseArgs(["0d"])).toEqual({ error: "unknown argument: 0d" });
  });

  it("runs as a script (tsx src/dashboard/stats-main.ts) against a server", async () => {
    const s = await scenario();
    const run = promisify(execFile);
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "src/dashboard/stats-main.ts", "--url", url, "--key", TEST_API_KEY, "--from", s.from, "--to", s.to, "--json"],
      {
        cwd: serverDir,
        env: { PATH: process.env["PATH"] ?? "" },
      },
    );
    expect(JSON.parse(stdout).funnel).toMatchObject({ accepted: 2, sent: 2 });
    const bad = await run(process.execPath, ["--import", "tsx", "src/dashboard/stats-main.ts", "--url", url, "--key", "nope"], {
      cwd: serverDir,
      env: { PATH: process.env["PATH"] ?? "" },
    }).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("401");
  });
});
