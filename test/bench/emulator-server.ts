// Child process for bench/emulator.ts: the LINE emulator alone on a random port, with simulated users ready.
import { startLineEmulator } from "@oa-notify/server/sandbox/emulator.ts";

const emu = await startLineEmulator({ channelSecret: "bench-secret", channelAccessToken: "bench-token", loginChannelId: "1", deliveryDelayMs: 50 });
const friend = emu.createUser({ friend: true });
const pnp = emu.createUser({ phone: "0912-000-111" });
process.send!({ url: emu.url, friendId: friend.userId, pnpHash: pnp.phoneHash });
process.on("SIGTERM", () => void emu.close().then(() => process.exit(0)));
