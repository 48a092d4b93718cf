/** `pnpm stats`: see cli.ts. Talks to a running server (PUBLIC_BASE_URL, first of API_KEYS), or --url / --key. */
import { configFromProcess } from "../env.ts";
import { runStatsCli } from "./cli.ts";

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const config = configFromProcess();
const code = await runStatsCli(argv, {
  fetch,
  out: (line) => process.stdout.write(`${line}\n`),
  now: () => new Date(),
  baseUrl: (flag("--url") ?? config.publicBaseUrl).replace(/\/$/, ""),
  apiKey: flag("--key") ?? config.apiKeys[0] ?? "sandbox-key",
});
process.exitCode = code;
