import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { clientSchemaPath, generateClientTypes } from "../../../server/scripts/client-types.ts";
import { generatedDir, generateLineMessageFiles } from "../../../server/scripts/line-messages.ts";

/** The committed generated files are what their generators make now (else: `pnpm gen:client` / `pnpm gen:line`). */
describe("generated files are fresh", () => {
  it("server/client/src/schema.ts equals a fresh openapi-typescript run over the served document (pnpm gen:client)", async () => {
    expect(readFileSync(clientSchemaPath, "utf8") === (await generateClientTypes()), "run `pnpm gen:client` and commit").toBe(true);
  }, 60_000);

  it("lib/line/generated/* equal a fresh compile of LINE's messaging-api.yml (pnpm gen:line)", async () => {
    for (const [name, text] of Object.entries(await generateLineMessageFiles()))
      expect(readFileSync(join(generatedDir, name), "utf8") === text, `${name}: run \`pnpm gen:line\` and commit`).toBe(true);
  }, 60_000);
});
