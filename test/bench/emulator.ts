// pnpm --filter @oa-notify/test exec tsx bench/emulator.ts — the LINE emulator's own capacity, so a dispatch
// benchmark against it measures our sender and not the emulator. Every request is OpenAPI-validated, as in tests.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const DURATION = Number(process.env["BENCH_SECONDS"] ?? 5);
const CONNECTIONS = Number(process.env["BENCH_CONNECTIONS"] ?? 32);

const child = fork(fileURLToPath(new URL("./emulator-server.ts", import.meta.url)), [], {
  execArgv: ["--import", "tsx"],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
const info = await new Promise<{ url: string; friendId: string; pnpHash: string }>((resolve) => child.once("message", resolve as never));

const headers = { authorization: "Bearer bench-token", "content-type": "application/json" };
const flex = {
  type: "flex",
  altText: "訂單已出貨",
  contents: { type: "bubble", body: { type: "box", layout: "vertical", contents: [{ type: "text", text: "已出貨" }] } },
};
const cases = [
  { name: "push (text)", path: "/v2/bot/message/push", body: { to: info.friendId, messages: [{ type: "text", text: "您的包裹已送達" }] } },
  { name: "PNP (flex), deliveries queued", path: "/bot/pnp/push", body: { to: info.pnpHash, messages: [flex] } },
];
for (const c of cases) {
  const r = await autocannon({
    url: `${info.url}${c.path}`,
    method: "POST",
    headers,
    body: JSON.stringify(c.body),
    connections: CONNECTIONS,
    duration: DURATION,
  });
  const ok = r["2xx"];
  process.stdout.write(`${c.name.padEnd(32)} ${Math.round(ok / DURATION)} req/s (2xx ${ok}, non-2xx ${r.non2xx}), p99 ${r.latency.p99} ms\n`);
}
child.kill("SIGTERM");
