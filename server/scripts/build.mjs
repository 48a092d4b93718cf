// Bundles the server's entry points into server/dist/*.mjs for production: plain `node`, no TypeScript loader
// (tsx's loader thread alone costs ~40 MB of RSS). npm packages stay external (resolved from server/node_modules);
// the workspace's own packages (@oa-notify/*) are bundled in. Assets are found from the repository root at run time
// (server/src/lib/paths.ts, db's migrationsFolder), so the bundle runs inside this checkout.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const serverDir = fileURLToPath(new URL("..", import.meta.url));

/** Bundles one entry (a path relative to server/, or absolute) into `outfile`. */
export async function bundle(entry, outfile) {
  await build({
    entryPoints: [entry],
    absWorkingDir: serverDir,
    outfile,
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
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entries = ["main", "worker-main"];
  await Promise.all(entries.map((e) => bundle(`src/${e}.ts`, `dist/${e}.mjs`)));
  process.stdout.write(`server bundled: ${entries.map((e) => `dist/${e}.mjs`).join(", ")}\n`);
}
