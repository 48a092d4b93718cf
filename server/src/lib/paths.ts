import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root (where pnpm-workspace.yaml is), found by walking up from this module. Assets (the vendored
 * OpenAPI spec, the dashboard's files, the built LIFF app) are resolved from it, so the server finds them whether it
 * runs from its sources under tsx or from its production bundle in server/dist.
 */
export const repoRoot = (() => {
  const from = dirname(fileURLToPath(import.meta.url));
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) throw new Error(`repository root (pnpm-workspace.yaml) not found above ${from}`);
  }
})();

export const serverSrcDir = join(repoRoot, "server", "src");
