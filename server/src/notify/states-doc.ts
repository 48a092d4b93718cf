import { notificationStatuses, terminalStatuses } from "@oa-notify/db";
import { transitionDefs } from "./transitions.ts";

export const TABLE_START = "<!-- transitions:start (generated from server/src/notify/transitions.ts by `pnpm docs:states`) -->";
export const TABLE_END = "<!-- transitions:end -->";

const list = (xs: readonly string[] | "any" | "same", none = "—") =>
  xs === "any" ? "any" : xs === "same" ? "(unchanged)" : xs.length ? xs.map((x) => `\`${x}\``).join(", ") : none;

/** The transition table of docs/states.md, from the definitions themselves (so the two cannot drift apart). */
export function renderTransitionTable(): string {
  const rows = transitionDefs.map((d) => `| \`${d.name}\` | ${list(d.from)} | ${list(d.to)} | ${list(d.timeline)} | ${d.when} |`);
  return [
    TABLE_START,
    "",
    `States: ${notificationStatuses.map((s) => `\`${s}\``).join(", ")}. Terminal: ${terminalStatuses.map((s) => `\`${s}\``).join(", ")}.`,
    "",
    "| transition | from | to | timeline entries | when |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
    TABLE_END,
  ].join("\n");
}

/** `doc` with its generated table replaced by the current one. */
export function withCurrentTable(doc: string): string {
  const a = doc.indexOf(TABLE_START);
  const b = doc.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error("docs/states.md has no transitions:start/end markers");
  return doc.slice(0, a) + renderTransitionTable() + doc.slice(b + TABLE_END.length);
}
