import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Router } from "express";
import helmet from "helmet";
import { mount } from "../lib/openapi.ts";
import { serverSrcDir } from "../lib/paths.ts";
import { buildOpenApiDocument, contractOperations } from "./document.ts";
import { renderReference } from "./render.ts";

/** GET /api/v1/openapi.json (mounted at /api/v1, before the API key: a client generator fetches it as is). */
export function openApiRouter(): Router {
  const r = Router();
  const json = JSON.stringify(buildOpenApiDocument());
  mount(r, contractOperations.getOpenApiDocument, (_req, res) => {
    res.type("application/json").set("cache-control", "no-cache").send(json);
  });
  return r;
}

/**
 * /api/docs: the reference page rendered from the same document (contract/render.ts), and its stylesheet. A CSP like
 * the dashboard's, stricter still: no script at all.
 */
export function apiDocsRouter(): Router {
  const html = renderReference(buildOpenApiDocument(), "/api/docs/docs.css");
  const css = readFileSync(join(serverSrcDir, "contract", "static", "docs.css"), "utf8");
  const r = Router();
  r.use(
    helmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  r.get(["/", "/index.html"], (_req, res) => {
    res.type("html").set("cache-control", "no-cache").send(html);
  });
  r.get("/docs.css", (_req, res) => {
    res.type("text/css").set("cache-control", "no-cache").send(css);
  });
  return r;
}
