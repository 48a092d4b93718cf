import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Router } from "express";
import helmet from "helmet";
import { serverSrcDir } from "../lib/paths.ts";

const dir = pathToFileURL(`${join(serverSrcDir, "dashboard", "static")}/`);
const read = (name: string) => readFileSync(new URL(name, dir), "utf8");

/**
 * The operator dashboard at /dashboard: one static page, its script and stylesheet, no build step. The page itself
 * holds no data, so it needs no auth; the operator types an API key, which the script keeps in sessionStorage only
 * and sends as `Authorization: Bearer` to /api/v1 (same origin). The CSP allows nothing but our own files, so no
 * inline script or style can run even if a value rendered from the API were hostile (the script sets text only).
 */
export function dashboardRouter(): Router {
  // Read once: three small files that change only with a deploy.
  const files = { html: read("index.html"), js: read("app.js"), css: read("app.css"), scenarios: read("scenarios.js") };
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
    res.type("html").send(files.html);
  });
  r.get("/app.js", (_req, res) => {
    res.type("text/javascript").send(files.js);
  });
  r.get("/scenarios.js", (_req, res) => {
    res.type("text/javascript").send(files.scenarios);
  });
  r.get("/app.css", (_req, res) => {
    res.type("text/css").send(files.css);
  });
  return r;
}
