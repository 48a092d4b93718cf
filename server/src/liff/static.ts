import { readFile } from "node:fs/promises";
import { join } from "node:path";
import express, { Router } from "express";
import helmet from "helmet";
import { AppError } from "../lib/errors.ts";
import { repoRoot } from "../lib/paths.ts";

export const liffDistDir = join(repoRoot, "liff-app", "dist");

/**
 * The built LIFF app at /liff/ with an SPA fallback: LINE opens deep paths (/liff/bills/…) after `liff.init`.
 * Hashed assets are immutable; index.html is never cached so a deploy takes effect at once.
 * The CSP allows only our own scripts; the LIFF SDK talks to LINE's hosts from inside the LINE app.
 */
export function liffStaticRouter(opts: { dir?: string } = {}): Router {
  const dir = opts.dir ?? liffDistDir;
  const r = Router();
  r.use(
    helmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:", "https://*.line-scdn.net"],
        connectSrc: ["'self'", "https://api.line.me", "https://access.line.me", "https://liff.line.me", "https://liffsdk.line-scdn.net"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'self'", "https://*.line.me"],
      },
    }),
  );
  r.use(
    "/assets",
    express.static(`${dir}/assets`, { immutable: true, maxAge: "365d", index: false }),
    (_req: express.Request, _res: express.Response, next: express.NextFunction) => next(new AppError("not_found", "no such asset")),
  );
  r.use(express.static(dir, { index: false, maxAge: 0 }));
  // Read per request (it is tiny): a rebuild while the server runs is picked up without a restart.
  r.get(/.*/, async (_req, res) => {
    const html = await readFile(`${dir}/index.html`, "utf8").catch(() => null);
    if (html === null) {
      res.status(503).type("text/plain").send("The LIFF app is not built: run `pnpm build`.");
      return;
    }
    res.set("cache-control", "no-cache").type("html").send(html);
  });
  return r;
}
