// The LINE emulator for the dispatch benchmark, in its own process (so it does not share the sender's event loop):
// creates simulated PNP users, sets the latency fault, and reports what it accepted (for duplicate counting).
import { startLineEmulator } from "@oa-notify/server/sandbox/emulator.ts";

const [users, latencyMs, friends = 0] = process.argv.slice(2).map(Number) as [number, number, number?];
const emu = await startLineEmulator({
  channelSecret: "bench-secret",
  channelAccessToken: "bench-token",
  loginChannelId: "1",
  deliveryDelayMs: 3_600_000,
  requestLogLimit: 1,
});
const phones: string[] = [];
for (let i = 0; i < users; i++) {
  const phone = `0912${String(i).padStart(6, "0")}`;
  emu.createUser({ phone });
  phones.push(phone);
}
emu.setFaults({ latencyMs });
// Friends for push: LINE user ids the sender addresses directly.
const friendIds: string[] = [];
for (let i = 0; i < friends; i++) friendIds.push(emu.createUser({ friend: true }).userId);
process.send!({ url: emu.url, phones, friendIds });
process.on("message", (m: { cmd: string }) => {
  if (m.cmd !== "stats") return;
  const byTag = new Map<string, number>();
  const accepted = emu.accepted();
  for (const a of accepted) if (a.deliveryTag) byTag.set(a.deliveryTag, (byTag.get(a.deliveryTag) ?? 0) + 1);
  const keys = new Map<string, number>();
  for (const a of accepted) if (a.retryKey) keys.set(`${a.retryKey}:${a.to}`, (keys.get(`${a.retryKey}:${a.to}`) ?? 0) + 1);
  process.send!({
    accepted: accepted.length,
    tags: byTag.size,
    duplicates: [...byTag.values()].filter((n) => n > 1).length + [...keys.values()].filter((n) => n > 1).length,
    rates: emu.acceptedRates(),
  });
});
process.on("SIGTERM", () => void emu.close().then(() => process.exit(0)));
