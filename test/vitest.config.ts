import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Once per run: rebuilds a stale server bundle and migrates one PGlite that every test file then copies.
    globalSetup: ["src/helpers/global-setup.ts"],
    testTimeout: 60_000,
    // beforeAll starts servers, chromium and databases: on a busy 2-core machine that can take a while.
    hookTimeout: 120_000,
    pool: "forks",
    // 2 cores: more workers only thrash PGlite start-ups and the browser.
    maxWorkers: 3,
    env: { NODE_ENV: "test" },
  },
});
