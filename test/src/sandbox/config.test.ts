import { spawn } from "node:child_process";
import { ConfigError, loadConfig } from "@oa-notify/server/env.ts";
import { describe, expect, it } from "vitest";
import { builtServerEntry, freePort, PROCESS_WAIT_MS, serverDir } from "../helpers/process.ts";

/**
 * The sandbox never turns on by accident. Without a LINE access token it starts by itself only on a developer's
 * machine (no DATABASE_URL, NODE_ENV not production): next to a real database a forgotten token would otherwise
 * serve an unauthenticated console with the API key, the channel secret and every SMS (OTP codes included).
 * In sandbox mode the server listens on 127.0.0.1 unless HOST says otherwise. The config is frozen.
 */

const PRODUCTION = {
  LINE_CHANNEL_SECRET: "production-secret-0123456789",
  LINE_LOGIN_CHANNEL_ID: "2000000000",
  LIFF_ID: "2000000000-abcdefgh",
  API_KEYS: "production-key-0123456789",
  APP_SECRET: "production-app-secret-0123456789abcdef",
  SMS_PROVIDER: "log",
};
const configError = (env: Record<string, string>): ConfigError => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

describe("when the sandbox turns on", () => {
  it("by itself without a token on a developer's machine, listening on 127.0.0.1", () => {
    const c = loadConfig({});
    expect(c.sandbox).toBe(true);
    expect(c.host).toBe("127.0.0.1");
    expect(loadConfig({ HOST: "0.0.0.0" }).host).toBe("0.0.0.0"); // opened up on purpose
  });

  it("not by itself next to DATABASE_URL: a missing token is a config error saying to set it or SANDBOX=1", () => {
    const err = configError({ DATABASE_URL: "postgres://db.example/prod", ...PRODUCTION });
    expect(err.name).toBe("ConfigError");
    expect(err.issues).toHaveLength(1);
    expect(err.message).toMatch(/LINE_CHANNEL_ACCESS_TOKEN: required \(DATABASE_URL is set.*SANDBOX=1/);
  });

  it("not by itself with NODE_ENV=production, database or not", () => {
    expect(configError({ NODE_ENV: "production", ...PRODUCTION }).message).toMatch(/LINE_CHANNEL_ACCESS_TOKEN: required \(NODE_ENV=production.*SANDBOX=1/);
    // Without the other production settings every missing one is listed too.
    const bare = configError({ NODE_ENV: "production" });
    expect(bare.issues[1]).toMatch(/^LINE_CHANNEL_ACCESS_TOKEN: required/);
    expect(bare.issues.some((i) => i.startsWith("API_KEYS"))).toBe(true);
  });

  it("when asked with SANDBOX=1, next to a database too; SANDBOX=0 without a token is the plain error", () => {
    const c = loadConfig({ SANDBOX: "1", DATABASE_URL: "postgres://localhost/dev" });
    expect(c.sandbox).toBe(true);
    expect(c.host).toBe("127.0.0.1");
    expect(configError({ SANDBOX: "0", ...PRODUCTION }).issues).toEqual(["LINE_CHANNEL_ACCESS_TOKEN: required outside sandbox mode"]);
  });

  it("a production config listens where HOST says (all interfaces by default) and is not a sandbox", () => {
    const c = loadConfig({ DATABASE_URL: "postgres://db.example/prod", LINE_CHANNEL_ACCESS_TOKEN: "t", ...PRODUCTION });
    expect(c.sandbox).toBe(false);
    expect(c.host).toBeUndefined();
  });
});

describe("the config", () => {
  it("is deep-frozen: a write anywhere in it throws", () => {
    const c = loadConfig({});
    expect(() => ((c.line as { apiBaseUrl: string }).apiBaseUrl = "http://elsewhere")).toThrow(TypeError);
    expect(() => ((c.prices as { sms: number }).sms = 0)).toThrow(TypeError);
    expect(() => (c.apiKeys as string[]).push("extra")).toThrow(TypeError);
    expect(() => ((c as { sandbox: boolean }).sandbox = false)).toThrow(TypeError);
    expect(c.line.apiBaseUrl).not.toBe("http://elsewhere");
  });
});

describe("outgoing webhooks config", () => {
  const issues = (env: Record<string, string>) => {
    try {
      loadConfig({ SANDBOX: "1", ...env });
      return [];
    } catch (err) {
      return (err as ConfigError).issues;
    }
  };
  it("takes a status URL with a whsec_ secret, and forward URLs, comma-separated, deduplicated", () => {
    const c = loadConfig({
      SANDBOX: "1",
      STATUS_WEBHOOK_URL: "https://erp.example.com/hooks/oa",
      STATUS_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      WEBHOOK_FORWARD_URLS: "https://bot.example.com/callback, https://bot2.example.com/cb,https://bot.example.com/callback",
    });
    expect(c.webhooks).toEqual({
      statusUrl: "https://erp.example.com/hooks/oa",
      statusSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      forwardUrls: ["https://bot.example.com/callback", "https://bot2.example.com/cb"],
      retryBaseSeconds: 5,
    });
    expect(loadConfig({ SANDBOX: "1" }).webhooks).toEqual({ statusUrl: undefined, statusSecret: undefined, forwardUrls: [], retryBaseSeconds: 5 });
  });
  it("refuses a status URL without a secret, a secret not in whsec_ form, and a forward URL that is not http(s)", () => {
    expect(issues({ STATUS_WEBHOOK_URL: "https://erp.example.com/hooks" })).toEqual(["STATUS_WEBHOOK_SECRET: required when STATUS_WEBHOOK_URL is set"]);
    expect(issues({ STATUS_WEBHOOK_URL: "https://erp.example.com/hooks", STATUS_WEBHOOK_SECRET: "plain-secret" })[0]).toMatch(/^STATUS_WEBHOOK_SECRET: whsec_/);
    expect(issues({ WEBHOOK_FORWARD_URLS: "https://ok.example.com,ftp://bot.example.com" })).toEqual([
      "WEBHOOK_FORWARD_URLS: not an http(s) URL: ftp://bot.example.com",
    ]);
  });
});

describe("the built server", () => {
  const refuses = (env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string; listened: boolean }>((resolve, reject) => {
      void (async () => {
        const port = await freePort();
        const child = spawn(process.execPath, [builtServerEntry()], {
          cwd: serverDir,
          env: { PATH: process.env["PATH"] ?? "", PORT: String(port), ...env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout!.on("data", (d) => (out += d));
        child.stderr!.on("data", (d) => (out += d));
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`still running after ${PROCESS_WAIT_MS / 1000} s:\n${out}`));
        }, PROCESS_WAIT_MS);
        child.once("exit", async (code) => {
          clearTimeout(timer);
          const listened = await fetch(`http://127.0.0.1:${port}/healthz`).then(
            () => true,
            () => false,
          );
          resolve({ code, out, listened });
        });
      })();
    });

  it("refuses to start with DATABASE_URL but no access token: exits non-zero with the message, never listens", async () => {
    // Nothing listens at this database: the config is checked before any connection is tried.
    const r = await refuses({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/prod", ...PRODUCTION });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("LINE_CHANNEL_ACCESS_TOKEN: required (DATABASE_URL is set");
    expect(r.out).toContain("SANDBOX=1");
    expect(r.out).not.toContain("sandbox mode");
    expect(r.listened).toBe(false);
  });

  it("refuses to start with NODE_ENV=production but no access token", async () => {
    const r = await refuses({ NODE_ENV: "production", ...PRODUCTION });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("LINE_CHANNEL_ACCESS_TOKEN: required (NODE_ENV=production");
    expect(r.listened).toBe(false);
  });
});
