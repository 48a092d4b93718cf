/**
 * LIFF bundle bar (docs/benchmarks.md): the JavaScript a next-step page (/liff/bills/:id, /liff/orders/:id) loads
 * first must be ≤ 150 KB gzipped. Run with `pnpm bench:liff` (root), which builds the app first.
 *
 * Counted: the entry script and every modulepreload in dist/index.html, plus the next-step route chunk and its
 * static imports from Vite's manifest, each file once, gzipped. The bar is checked at zlib level 6 (what most
 * servers and CDNs use; slightly larger than -9, so the stricter of the two). Not counted: the sandbox-only @line/liff-mock chunk (never loaded outside sandbox) and
 * CSS (not JS; printed for information).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { verdict } from "./common.ts";

const BAR_BYTES = 150 * 1024;
const dist = fileURLToPath(new URL("../../liff-app/dist", import.meta.url));
const ROUTE_SRC = "src/pages/NextStep.tsx";

if (!existsSync(join(dist, "index.html"))) {
  console.error("liff-app/dist is missing: run `pnpm build` (or `pnpm bench:liff` from the root, which builds first).");
  process.exit(2);
}
type ManifestChunk = { file: string; src?: string; imports?: string[]; dynamicImports?: string[]; css?: string[]; isEntry?: boolean };
const html = readFileSync(join(dist, "index.html"), "utf8");
const manifest = JSON.parse(readFileSync(join(dist, ".vite/manifest.json"), "utf8")) as Record<string, ManifestChunk>;

const strip = (u: string) => u.replace(/^\/liff\//, "");
const fromHtml = new Set<string>();
for (const m of html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g)) fromHtml.add(strip(m[1]!));
for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)) fromHtml.add(strip(m[1]!));
for (const m of html.matchAll(/<link[^>]*href="([^"]+)"[^>]*rel="modulepreload"/g)) fromHtml.add(strip(m[1]!));

const route = manifest[ROUTE_SRC];
if (!route) {
  console.error(`no chunk for ${ROUTE_SRC} in the manifest`);
  process.exit(2);
}
const routeFiles = new Set<string>();
const walk = (key: string) => {
  const c = manifest[key];
  if (!c || routeFiles.has(c.file)) return;
  routeFiles.add(c.file);
  for (const i of c.imports ?? []) walk(i);
};
walk(ROUTE_SRC);

const files = [...new Set([...fromHtml, ...routeFiles])].filter((f) => f.endsWith(".js"));
const rows = files.map((f) => {
  const buf = readFileSync(join(dist, f));
  return {
    file: f,
    raw: buf.length,
    gz9: gzipSync(buf, { level: 9 }).length,
    gz6: gzipSync(buf, { level: 6 }).length,
    why: fromHtml.has(f) ? "index.html" : "route chunk",
  };
});
const total = rows.reduce((a, r) => ({ raw: a.raw + r.raw, gz9: a.gz9 + r.gz9, gz6: a.gz6 + r.gz6 }), { raw: 0, gz9: 0, gz6: 0 });
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

console.log("LIFF next-step page (/liff/bills/:id): first-load JavaScript");
console.table(rows.map((r) => ({ file: r.file, loaded: r.why, raw: kb(r.raw), "gzip -9": kb(r.gz9), "gzip -6": kb(r.gz6) })));
const css = Object.values(manifest).flatMap((c) => c.css ?? []);
for (const c of new Set(css)) console.log(`(CSS, not counted: ${c} ${kb(gzipSync(readFileSync(join(dist, c)), { level: 9 }).length)} gzipped)`);
const mock = Object.values(manifest).find((c) => c.src?.includes("liff-mock"));
if (mock) console.log(`(sandbox only, not counted: @line/liff-mock ${kb(gzipSync(readFileSync(join(dist, mock.file)), { level: 9 }).length)} gzipped)`);
const ok = verdict(total.gz6 <= BAR_BYTES, "LIFF bundle", `${kb(total.gz6)} gzipped first-load JS (bar ≤ ${kb(BAR_BYTES)})`);
console.log(`\nTOTAL ${kb(total.raw)} raw, ${kb(total.gz9)} gzip -9, ${kb(total.gz6)} gzip -6  vs bar ${kb(BAR_BYTES)}: ${ok ? "PASS" : "FAIL"}`);
process.exit(ok ? 0 : 1);
