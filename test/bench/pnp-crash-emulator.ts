// The LINE emulator for bench/pnp-crash.ts, in its own process so that killing the worker cannot touch it: PNP users,
// the latency fault, and on request the delivery tags it accepted (a request that reached it counts once it is
// answered; one cut off by the worker's death is still answered here, so "accepted" = "was on the wire").
import { startLineEmulator } from "@oa-notify/server/sandbox/emulator.ts";

const [users, latencyMs] = process.argv.slice(2).map(Number) as [number, number];
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
process.send!({ url: emu.url, phones });
process.on("message", (m: { cmd: string }) => {
  if (m.cmd !== "tags") return;
  const tags = emu.accepted().flatMap((a) => (a.deliveryTag ? [a.deliveryTag] : []));
  process.send!({ tags, inFlight: emu.inFlight() });
});
process.on("SIGTERM", () => void emu.close().then(() => process.exit(0)));
