import { request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * One request with exactly these bytes and headers (supertest re-encodes a Buffer body when the content type is
 * JSON, so encoded bodies — gzip, a corrupt encoding — go through this). Answers status, headers and parsed body.
 */
export function rawRequest(
  server: Server,
  opts: { method?: string; path: string; headers?: Record<string, string | number>; body?: Buffer | string },
): Promise<{ status: number; headers: Record<string, unknown>; text: string; body: any }> {
  const port = (server.address() as AddressInfo).port;
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const req = httpRequest(
      // agent: false — a fresh connection each time: a kept-alive one can be closed by the server as it is reused.
      {
        host: "127.0.0.1",
        port,
        agent: false,
        method: opts.method ?? "POST",
        path: opts.path,
        headers: { ...(body ? { "content-length": body.length } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
