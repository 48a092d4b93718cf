import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "@oa-notify/db";
import type { Router } from "express";
import type { Config } from "../env.ts";
import type { Clock } from "../lib/clock.ts";
import type { Logger } from "../lib/logger.ts";
import { createLogSmsProvider } from "../lib/sms/log.ts";
import type { SmsProvider } from "../lib/sms/types.ts";
import { sandboxConsoleRouter } from "./console.ts";
import { type StartedLineEmulator, startLineEmulator } from "./emulator.ts";

export interface SandboxRuntime {
  emulator: StartedLineEmulator;
  /** SMS_PROVIDER=log in sandbox: every SMS lands in the console's SMS inbox (null: another provider is configured) */
  sms: SmsProvider | null;
  console: Router;
  /** true when the state file did not exist: the demo data should be seeded */
  firstStart: boolean;
  /** call once our server listens: LINE's webhooks then reach our own /webhook */
  attach(port: number): void;
  close(): Promise<void>;
}

/**
 * Starts the LINE emulator for sandbox mode (README.md, "Sandbox"). The config stays as it was (it is frozen):
 * the caller builds its LINE client on `emulator.url`, and everything that talks to LINE (push, PNP, the JWKS that
 * LIFF ID tokens are checked against) goes through that client.
 */
export async function startSandbox(opts: { config: Config; db: Database; logger: Logger; clock: Clock }): Promise<SandboxRuntime> {
  const { config, logger } = opts;
  const stateFile = join(config.dataDir, "sandbox-line.json");
  const firstStart = !existsSync(stateFile);
  const emulator = await startLineEmulator({
    port: config.sandboxLinePort,
    host: "127.0.0.1",
    channelSecret: config.line.channelSecret,
    channelAccessToken: config.line.channelAccessToken,
    loginChannelId: config.line.loginChannelId,
    clock: opts.clock,
    stateFile,
    logger: logger.child({ component: "line-emulator" }),
    requestLogLimit: 5_000,
  });
  const sms =
    config.sms.provider === "log"
      ? createLogSmsProvider((m) => {
          logger.info({ reference: m.reference, toLast3: m.to.slice(-3) }, "sms (sandbox SMS inbox)");
          emulator.recordSms(m);
        })
      : null;
  return {
    emulator,
    sms,
    console: sandboxConsoleRouter({ emulator, db: opts.db, config, logger }),
    firstStart,
    attach(port) {
      emulator.setWebhookUrl(`http://127.0.0.1:${port}/webhook`);
    },
    close: () => emulator.close(),
  };
}

export interface DemoUser {
  label: string;
  memberId: string;
  phone: string;
  userId: string | null;
}

/**
 * First-start demo data, created through the product's own API and the emulator (the same paths a developer
 * uses), so the console shows every PNP case at once: a friend bound to a member, a non-friend with PNP consent,
 * one whose consent is unset, and a number LINE does not know.
 */
export async function seedSandbox(opts: { baseUrl: string; apiKey: string; emulator: StartedLineEmulator; logger: Logger }): Promise<DemoUser[]> {
  const { baseUrl, apiKey, emulator } = opts;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json().catch(() => ({}))) as any;
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const demo: {
    label: string;
    memberId: string;
    name: string;
    phone: string;
    sim: Parameters<StartedLineEmulator["createUser"]>[0] | null;
    follow: boolean;
    bind: boolean;
  }[] = [
    {
      label: "好友、已綁定 friend, bound",
      memberId: "demo-friend",
      name: "王小明",
      phone: "0912-345-678",
      sim: { displayName: "王小明" },
      follow: true,
      bind: true,
    },
    {
      label: "非好友、同意通知型訊息 not a friend, PNP consent yes",
      memberId: "demo-pnp",
      name: "陳美玲",
      phone: "0928-123-456",
      sim: { displayName: "陳美玲", pnpConsent: "yes" },
      follow: false,
      bind: false,
    },
    {
      label: "非好友、未設定同意 not a friend, consent unset",
      memberId: "demo-unset",
      name: "林志豪",
      phone: "0935-246-810",
      sim: { displayName: "林志豪", pnpConsent: "unset" },
      follow: false,
      bind: false,
    },
    {
      label: "LINE 不認得的號碼 number unknown to LINE",
      memberId: "demo-no-line",
      name: "張雅婷",
      phone: "0955-777-888",
      sim: null,
      follow: false,
      bind: false,
    },
  ];
  const out: DemoUser[] = [];
  for (const d of demo) {
    await call("PUT", `/api/v1/members/${d.memberId}`, { phone: d.phone, name: d.name });
    let userId: string | null = null;
    if (d.sim) {
      const existing = emulator.listUsers().find((u) => u.displayName === d.sim!.displayName);
      userId = (existing ?? emulator.createUser({ ...d.sim, phone: d.phone })).userId;
      if (d.follow) await emulator.follow(userId);
    }
    if (d.bind && userId) {
      // The real binding path: a binding link for the member, opened in the LIFF app by this LINE user.
      try {
        const link = (await call("POST", `/api/v1/members/${d.memberId}/binding-links`, {})) as { url: string };
        const token = new URL(link.url).searchParams.get("token");
        const cfg = (await (await fetch(`${baseUrl}/liff-config`)).json()) as { consentVersion?: string };
        const idToken = await emulator.mintIdToken(userId);
        await call(
          "POST",
          "/liff-api/bindings",
          { bindingToken: token, consent: { version: cfg.consentVersion, accepted: true } },
          { authorization: `Bearer ${idToken}` },
        );
      } catch (err) {
        opts.logger.warn({ err: (err as Error).message, memberId: d.memberId }, "sandbox demo: binding skipped");
      }
    }
    out.push({ label: d.label, memberId: d.memberId, phone: d.phone, userId });
  }
  await emulator.flushDeliveries();
  emulator.save();
  return out;
}

export function sandboxBanner(opts: { port: number; config: Config; emulatorUrl: string; demo?: DemoUser[] | null }): string {
  const base = `http://localhost:${opts.port}`;
  const c = opts.config;
  const lines = [
    "",
    "  ┌─ oa-notify · 沙盒模式 sandbox mode (no LINE account needed) ─────────────",
    `  │ 主控台 Console      ${base}/sandbox`,
    `  │ LIFF app            ${base}/liff/`,
    `  │ API                 ${base}/api/v1   (Authorization: Bearer ${c.apiKeys[0] ?? "?"})`,
    `  │ API reference       ${base}/api/docs   (OpenAPI: ${base}/api/v1/openapi.json)`,
    `  │ LINE emulator       ${opts.emulatorUrl}   (webhooks → http://127.0.0.1:${opts.port}/webhook)`,
    `  │ Channel secret      ${c.line.channelSecret}`,
    `  │ Access token        ${c.line.channelAccessToken}`,
    `  │ LIFF ID / Login ch. ${c.line.liffId} / ${c.line.loginChannelId}`,
    `  │ Data                ${c.databaseUrl ? "PostgreSQL (DATABASE_URL)" : `embedded PGlite in ${c.dataDir}/`}`,
  ];
  if (opts.demo?.length) {
    lines.push("  │ Demo members (seeded on first start):");
    for (const d of opts.demo) lines.push(`  │   ${d.memberId.padEnd(14)} ${d.phone}  ${d.label}`);
  }
  lines.push(`  │ Try: pnpm demo   ·   curl -H 'Authorization: Bearer ${c.apiKeys[0] ?? "?"}' ${base}/api/v1/members/demo-friend`);
  lines.push("  └──────────────────────────────────────────────────────────────────────────", "");
  return lines.join("\n");
}
