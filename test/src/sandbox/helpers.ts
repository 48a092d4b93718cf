import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HTTPFetchError, messagingApi } from "@line/bot-sdk";
import { type LineEmulatorOptions, type StartedLineEmulator, startLineEmulator } from "@oa-notify/server/sandbox/emulator.ts";

export const EMU_SECRET = "emulator-test-secret";
export const EMU_TOKEN = "emulator-test-token";
export const EMU_LOGIN_CHANNEL = "1650000000";

export async function startEmulator(o: Partial<LineEmulatorOptions> = {}): Promise<StartedLineEmulator> {
  return startLineEmulator({ channelSecret: EMU_SECRET, channelAccessToken: EMU_TOKEN, loginChannelId: EMU_LOGIN_CHANNEL, deliveryDelayMs: 20, ...o });
}

export const sdkClient = (emu: { url: string }, token = EMU_TOKEN) => new messagingApi.MessagingApiClient({ channelAccessToken: token, baseURL: emu.url });

/** Runs an SDK call that must fail and returns its HTTPFetchError (status, headers, parsed body). */
export async function sdkError(p: Promise<unknown>): Promise<{ status: number; headers: Headers; body: any }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HTTPFetchError) return { status: err.status, headers: err.headers, body: JSON.parse(err.body) };
    throw err;
  }
  throw new Error("expected the call to fail");
}

export interface ReceivedWebhook {
  raw: string;
  signature: string | undefined;
  body: { destination: string; events: any[] };
}

/** A loopback HTTP server that records webhook POSTs (answering `status`, 200 by default). */
export async function webhookReceiver(
  status: () => number = () => 200,
): Promise<{ url: string; received: ReceivedWebhook[]; close(): Promise<void>; server: Server }> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const sig = req.headers["x-line-signature"];
      received.push({ raw, signature: typeof sig === "string" ? sig : undefined, body: JSON.parse(raw) });
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A random Taiwan mobile number (prefixes libphonenumber knows as mobile). */
const PREFIXES = ["0912", "0928", "0935", "0955", "0963", "0988"];
export const randomTwPhone = () => `${PREFIXES[Math.floor(Math.random() * PREFIXES.length)]}${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
