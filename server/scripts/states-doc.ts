// `pnpm docs:states`: rewrites the transition table in docs/states.md from server/src/notify/transitions.ts.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../src/lib/paths.ts";
import { withCurrentTable } from "../src/notify/states-doc.ts";

const file = join(repoRoot, "docs", "states.md");
writeFileSync(file, withCurrentTable(readFileSync(file, "utf8")));
process.stdout.write(`updated ${file}\n`);
