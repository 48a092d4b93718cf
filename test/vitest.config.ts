import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Once per run: rebuilds the server bundle when it is older than its sources.
    globalSetup: ["src/helpers/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // 2 cores: more workers only thrash PGlite start-ups and the browser.
    maxWorkers: 3,
    env: { NODE_ENV: "test" },
  },
});
