// Bundles the server's entry points into server/dist/*.mjs for production: plain `node`, no TypeScript loader
// (tsx's loader thread alone costs ~40 MB of RSS). npm packages stay external (resolved from server/node_modules);
// the workspace's own packages (@oa-notify/*) are bundled in. Assets are found from the repository root at run time
// (server/src/lib/paths.ts, db's migrationsFolder), so the bundle runs inside this checkout.
import { readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const serverDir = fileURLToPath(new URL("..", import.meta.url));

const common = {
  absWorkingDir: serverDir,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [
    {
      name: "npm-packages-external",
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith("@oa-notify/") ? undefined : { external: true }));
      },
    },
  ],
};

/** Bundles one entry (a path relative to server/, or absolute) into `outfile`, as one file (the benchmarks' servers). */
export async function bundle(entry, outfile) {
  await build({ ...common, entryPoints: [entry], outfile });
}

export const serverEntries = ["main", "worker-main"];

/**
 * Bundles the server's entries into `outdir` (relative to server/, or absolute: dist/main.mjs, dist/worker-main.mjs)
 * with code splitting. Without it esbuild inlines every dynamic import(), and main.mjs would carry the sandbox (the
 * LINE emulator, its console, ajv, yaml, ulid) that main.ts loads only in sandbox mode. Split, the sandbox is a chunk
 * of its own (dist/chunks/) that a production server never reads; code both entries share goes into shared chunks
 * that they import statically. Chunk names carry a content hash, so chunks of earlier builds are deleted afterwards
 * (not before: a server or test starting meanwhile, or a concurrent identical build, must always find its chunks).
 */
export async function buildServer(outdir = "dist") {
  const out = resolve(serverDir, outdir);
  const result = await build({
    ...common,
    entryPoints: Object.fromEntries(serverEntries.map((e) => [e, `src/${e}.ts`])),
    outdir,
    outExtension: { ".js": ".mjs" },
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    metafile: true,
  });
  const written = new Set(Object.keys(result.metafile.outputs).map((f) => resolve(serverDir, f)));
  const chunks = join(out, "chunks");
  for (const f of readdirSync(chunks)) if (!written.has(join(chunks, f))) rmSync(join(chunks, f), { force: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildServer();
  process.stdout.write(`server bundled: ${serverEntries.map((e) => `dist/${e}.mjs`).join(", ")} (+ dist/chunks/)\n`);
}
