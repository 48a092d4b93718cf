import { fork } from "node:child_process";

const url = process.argv[2]!;
const p = fork("/work/wt-perf/server/dist/bench-notify-server.mjs", [url, "bench-api-key-0123456789"], {
  execArgv: ["--cpu-prof", "--cpu-prof-dir=/tmp/perf-prof"],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
const port = await new Promise<number>((r) => p.once("message", (m: any) => r(m.port)));
for (let k = 0; k < 3; k++) {
  const items = Array.from({ length: 10000 }, (_, i) => ({
    phone: `0912${String(k * 10000 + i).padStart(6, "0")}`,
    scenario: "billing",
    urgency: "day",
    text: `您的 11 月帳單 NT$${i % 5000} 元，繳費期限 12/15。Your November bill is ready.`,
    nextStep: { type: "bill", id: `b-${k}-${i}` },
  }));
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/notifications/batch`, {
    method: "POST",
    headers: { authorization: "Bearer bench-api-key-0123456789", "content-type": "application/json" },
    body: JSON.stringify({ notifications: items }),
  });
  await res.json();
  console.log(res.status, Math.round(performance.now() - t), "ms");
}
p.kill("SIGTERM");
await new Promise((r) => p.once("exit", r));
