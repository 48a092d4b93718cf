import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Once per run: rebuilds a stale server bundle; migrates one PGlite (cached between runs) that every test file copies.
    globalSetup: ["src/helpers/global-setup.ts"],
    // Some tests start servers, scripts (tsx) and chromium, and beforeAll hooks start databases: on a 2-core machine
    // that other jobs also load, a script that takes 10 s alone has been seen to take 35-65 s at load 13 and over
    // 120 s at load 21 (the shutdown test: 216 s). A generous limit costs nothing while tests pass; a hang still fails.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    // 2 cores: more workers only thrash PGlite start-ups and the browser.
    maxWorkers: 3,
    env: { NODE_ENV: "test" },
  },
});
