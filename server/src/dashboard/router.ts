import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Router } from "express";
import helmet from "helmet";
import { serverSrcDir } from "../lib/paths.ts";

const dir = join(serverSrcDir, "dashboard", "static");
const require = createRequire(import.meta.url);

const TYPES: Record<string, string> = { ".html": "html", ".js": "text/javascript", ".css": "text/css" };
const typeOf = (name: string) => TYPES[name.slice(name.lastIndexOf("."))];

/**
 * The operator dashboard at /dashboard: one static page, its scripts (core.js, one file per section, app.js last)
 * and stylesheet, no build step; the charting library (uPlot) from its npm package under /dashboard/vendor/. The
 * page itself holds no data, so it needs no auth; the operator types an API key, which the script keeps in
 * sessionStorage only and sends as `Authorization: Bearer` to /api/v1 (same origin). The CSP allows nothing but our
 * own files, so no inline script or style can run even if a value rendered from the API were hostile (the scripts
 * set text only; uPlot sizes its elements through the CSSOM, which a CSP does not govern).
 */
export function dashboardRouter(): Router {
  // Read once: small files that change only with a deploy. Only these names are served.
  const files = new Map<string, { type: string; body: string }>();
  for (const name of readdirSync(dir)) {
    const type = typeOf(name);
    if (type) files.set(name, { type, body: readFileSync(join(dir, name), "utf8") });
  }
  for (const name of ["uPlot.iife.min.js", "uPlot.min.css"]) {
    files.set(`vendor/${name}`, { type: typeOf(name)!, body: readFileSync(require.resolve(`uplot/dist/${name}`), "utf8") });
  }
  const r = Router();
  r.use(
    helmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  r.use((_req, res, next) => {
    res.set("cache-control", "no-cache");
    next();
  });
  r.get(["/", "/index.html"], (_req, res) => {
    res.type("html").send(files.get("index.html")!.body);
  });
  r.get(["/:name", "/vendor/:name"], (req, res, next) => {
    const f = files.get(req.path.slice(1));
    if (!f || f.type === "html") return next();
    res.type(f.type).send(f.body);
  });
  return r;
}
