import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the server at /liff/ (the LIFF endpoint URL). One build for every environment: the LIFF ID and API base
// come from GET /liff-config at start, never from build-time variables.
export default defineConfig({
  base: "/liff/",
  plugins: [react()],
  build: {
    target: "es2020",
    outDir: "dist",
    emptyOutDir: true,
    // test/bench/liff.ts reads it to find a route's chunk and its imports.
    manifest: true,
    sourcemap: false,
  },
});
