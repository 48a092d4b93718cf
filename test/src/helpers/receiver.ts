import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** what the receiver answered: an HTTP status, or 0 for no answer (connection dropped) */
  answered: number;
}

/**
 * A webhook receiver on loopback that records every request. `decide` picks the answer per request (an HTTP
 * status, or 0 to drop the connection without answering); by default 200.
 */
export async function startReceiver(decide: (req: { headers: IncomingHttpHeaders; body: Buffer; nth: number }) => number = () => 200) {
  const received: Received[] = [];
  let nth = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const answer = decide({ headers: req.headers, body, nth: nth++ });
      received.push({ at: Date.now(), headers: req.headers, body, answered: answer });
      if (answer === 0) req.socket.destroy();
      else res.writeHead(answer, { "content-type": "text/plain" }).end(answer < 300 ? "ok" : "no");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
