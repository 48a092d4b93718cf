/** CI (`CI=true`, as `.ci/run` sets it) promises every guarantee runs: there a missing prerequisite fails the file. */
export const IN_CI = process.env["CI"] === "true";

/**
 * Whether a test file's prerequisite is there. Without it the file's tests are skipped with a line on stderr saying
 * why, except under CI, where this throws: the file fails with that message instead of passing by skipping.
 */
export function prerequisite(what: string, present: boolean, missing: string): boolean {
  if (present) return true;
  if (IN_CI) throw new Error(`${what} cannot run: ${missing}. Under CI=true a missing prerequisite is a failure, not a skip.`);
  process.stderr.write(`${what} skipped: ${missing}\n`);
  return false;
}
