// What the benchmarks share: temporary PostgreSQL databases, child processes reporting over IPC, RSS from /proc, and
// the one-line verdict per bar that `pnpm bench` collects (bench/all.ts).
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const BASE_URL = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";

export function adminDb() {
  const admin = new pg.Client({ connectionString: BASE_URL });
  const names: string[] = [];
  return {
    connect: () => admin.connect(),
    /** A new empty database on BASE_URL's server, dropped by `end()`. */
    async temp(): Promise<string> {
      const name = `oa_bench_${randomBytes(4).toString("hex")}`;
      await admin.query(`create database ${name}`);
      names.push(name);
      const u = new URL(BASE_URL);
      u.pathname = `/${name}`;
      return u.toString();
    },
    async end() {
      for (const name of names) await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end();
    },
  };
}

/** Forks a script (a bundled .mjs on plain node, a .ts under tsx) and resolves with its first IPC message. */
export function child(script: string, args: string[], env?: Record<string, string>, flags: string[] = []): Promise<{ proc: ChildProcess; msg: any }> {
  const path = script.startsWith("/") ? script : fileURLToPath(new URL(script, import.meta.url));
  const proc = fork(path, args, {
    execArgv: script.endsWith(".mjs") ? flags : ["--import", "tsx", ...flags],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  return new Promise((resolve, reject) => {
    proc.once("message", (msg) => resolve({ proc, msg }));
    proc.once("exit", (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

/** Asks a forked child for something over IPC and resolves with its answer. */
export function ask<T>(proc: ChildProcess, cmd: string): Promise<T> {
  return new Promise((resolve) => {
    proc.once("message", resolve as never);
    proc.send({ cmd });
  });
}

/** The node flags `pnpm start` runs the server with (server/package.json "start"), for benchmarks of its memory. */
export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../server/package.json", import.meta.url)), "utf8")) as { scripts: { start: string } };
  return pkg.scripts.start
    .split(/\s+/)
    .slice(1)
    .filter((w) => w.startsWith("--") && w !== "--enable-source-maps");
}

export function rssOf(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/** The line `pnpm bench` collects for each bar: PASS/FAIL, the bar's name, the figure against its same-run baseline. */
export function verdict(pass: boolean, bar: string, figure: string): boolean {
  console.log(`${pass ? "PASS" : "FAIL"}  ${bar}: ${figure}`);
  return pass;
}
