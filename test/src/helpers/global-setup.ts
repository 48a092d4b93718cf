import { ensureServerBundle } from "./process.ts";

/** Once per `vitest run`, before any test file: a server bundle no older than its sources. */
export default function setup(): void {
  ensureServerBundle();
}
