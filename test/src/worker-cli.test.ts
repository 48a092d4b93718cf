import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { serverDir } from "./helpers/process.ts";

describe("pnpm worker", () => {
  it("refuses to open the embedded PGlite (it cannot be shared with the server) and says what it needs", async () => {
    const run = promisify(execFile)(process.execPath, ["--import", "tsx", "src/worker-main.ts"], {
      cwd: serverDir,
      env: { PATH: process.env["PATH"], SANDBOX: "1", DATA_DIR: mkdtempSync(join(tmpdir(), "oa-worker-")), LOG_LEVEL: "silent" },
    });
    const err = (await run.then(
      () => null,
      (e: unknown) => e,
    )) as { code: number; stderr: string } | null;
    expect(err).not.toBeNull();
    expect(err!.code).toBe(1);
    expect(err!.stderr.trim().split("\n")).toHaveLength(1);
    expect(err!.stderr).toContain("DATABASE_URL");
  });
});
