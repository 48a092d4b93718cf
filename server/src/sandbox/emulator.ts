/**
 * The LINE Platform emulator. Its parts live in ./emulator/, one module per LINE API area (index.ts says which);
 * this path stays the one callers import (the sandbox runtime and console, tests, benchmarks).
 */
export * from "./emulator/index.ts";
