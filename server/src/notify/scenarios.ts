import { type DbOrTx, scenarios, sql } from "@oa-notify/db";
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import type { Clock } from "../lib/clock.ts";
import { AppError, notFound } from "../lib/errors.ts";
import { defineOperations, errorResponse, mount } from "../lib/openapi.ts";
import { typedRows } from "../lib/rows.ts";
import { parseOr400 } from "../lib/validate.ts";
import { URGENCIES, type Urgency } from "./input.ts";

/**
 * The account's scenario registry (docs/routing.md): which use cases this LINE Official Account may send, which of
 * them LINE approved for notification messages (PNP), and the line that tells a reader of a late message to ignore it.
 * Seeded with LINE Taiwan's 18 use cases by a migration; LINE approves extras (refunds, flight changes, …) case by case.
 */
export interface Scenario {
  scenario: string;
  useCaseNo: number | null;
  title: string;
  pnpApproved: boolean;
  ignoreLine: string;
  defaultUrgency: Urgency | null;
  nextStepType: "order" | "bill" | null;
}

export const scenarioName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9_]+$/, "lowercase letters, digits and _ only");

const scenarioBody = z
  .object({
    pnpApproved: z.boolean(),
    title: z.string().min(1).max(100).optional(),
    ignoreLine: z.string().min(1).max(60).optional(),
    defaultUrgency: z.enum(URGENCIES).nullable().optional(),
    nextStepType: z.enum(["order", "bill"]).nullable().optional(),
  })
  .strict();

const DEFAULT_IGNORE_LINE = "若您已完成，請忽略此訊息";

function view(r: typeof scenarios.$inferSelect): Scenario {
  return {
    scenario: r.scenario,
    useCaseNo: r.useCaseNo,
    title: r.title,
    pnpApproved: r.pnpApproved,
    ignoreLine: r.ignoreLine,
    defaultUrgency: (r.defaultUrgency as Urgency | null) ?? null,
    nextStepType: (r.nextStepType as "order" | "bill" | null) ?? null,
  };
}

/** The active (not retired) scenarios among `names`, by name. One statement whatever the batch size. */
export async function lookupScenarios(db: DbOrTx, names: string[]): Promise<Map<string, Scenario>> {
  const out = new Map<string, Scenario>();
  if (names.length === 0) return out;
  const res = (await db.execute(sql`select * from scenarios where retired_at is null
    and scenario in (select value from json_array_elements_text(${JSON.stringify([...new Set(names)])}::json))`)) as unknown as {
    rows: Record<string, unknown>[];
  };
  for (const r of typedRows(scenarios, res.rows)) out.set(r.scenario, view(r));
  return out;
}

export async function listScenarios(db: DbOrTx): Promise<Scenario[]> {
  const res = (await db.execute(sql`select * from scenarios where retired_at is null order by use_case_no nulls last, scenario`)) as unknown as {
    rows: Record<string, unknown>[];
  };
  return typedRows(scenarios, res.rows).map(view);
}

/** Adds or changes a scenario (a retired one comes back). A new one needs a title. */
export async function putScenario({
  db,
  clock,
  name,
  input,
}: {
  db: DbOrTx;
  clock: Clock;
  name: string;
  input: z.infer<typeof scenarioBody>;
}): Promise<{ scenario: Scenario; created: boolean }> {
  const now = clock.now().toISOString();
  const res = (await db.execute(sql`
    insert into scenarios (scenario, title, pnp_approved, ignore_line, default_urgency, next_step_type, created_at, updated_at)
    values (${name}, ${input.title ?? name}, ${input.pnpApproved}, ${input.ignoreLine ?? DEFAULT_IGNORE_LINE}, ${input.defaultUrgency ?? null},
      ${input.nextStepType ?? null}, ${now}::timestamptz, ${now}::timestamptz)
    on conflict (scenario) do update set pnp_approved = excluded.pnp_approved,
      title = coalesce(${input.title ?? null}, scenarios.title),
      ignore_line = coalesce(${input.ignoreLine ?? null}, scenarios.ignore_line),
      default_urgency = case when ${input.defaultUrgency === undefined} then scenarios.default_urgency else excluded.default_urgency end,
      next_step_type = case when ${input.nextStepType === undefined} then scenarios.next_step_type else excluded.next_step_type end,
      retired_at = null, updated_at = excluded.updated_at
    returning *, (xmax = 0) as created`)) as unknown as { rows: Record<string, unknown>[] };
  const raw = res.rows[0]!;
  return { scenario: view(typedRows(scenarios, [raw])[0]!), created: Boolean(raw["created"]) };
}

/** Retires a scenario: new notices naming it are refused; the row stays so past notices still explain themselves. */
export async function retireScenario({ db, clock, name }: { db: DbOrTx; clock: Clock; name: string }): Promise<boolean> {
  const res = (await db.execute(sql`update scenarios set retired_at = ${clock.now().toISOString()}::timestamptz, updated_at = now()
    where scenario = ${name} and retired_at is null returning scenario`)) as unknown as { rows: unknown[] };
  return res.rows.length > 0;
}

const scenarioSchema = z
  .object({
    scenario: z.string(),
    useCaseNo: z.number().int().nullable(),
    title: z.string(),
    pnpApproved: z.boolean(),
    ignoreLine: z.string(),
    defaultUrgency: z.enum(URGENCIES).nullable(),
    nextStepType: z.enum(["order", "bill"]).nullable(),
  })
  .strict()
  .meta({ id: "Scenario" });
const scenarioParams = z.object({ scenario: scenarioName }).strict();

/** The scenario registry's contract (lib/openapi.ts). */
export const scenariosOperations = defineOperations({
  listScenarios: {
    operationId: "listScenarios",
    method: "get",
    path: "/scenarios",
    tag: "scenarios",
    summary: "The account's scenarios (use cases) and which are approved for PNP",
    responses: { 200: { description: "active scenarios", schema: z.object({ scenarios: z.array(scenarioSchema) }).strict() } },
  },
  getScenario: {
    operationId: "getScenario",
    method: "get",
    path: "/scenarios/:scenario",
    tag: "scenarios",
    summary: "One scenario",
    request: { params: scenarioParams },
    responses: { 200: { description: "the scenario", schema: scenarioSchema }, 404: errorResponse("no such (active) scenario") },
  },
  putScenario: {
    operationId: "putScenario",
    method: "put",
    path: "/scenarios/:scenario",
    tag: "scenarios",
    summary: "Add or change a scenario (a retired one comes back)",
    request: { params: scenarioParams, body: scenarioBody },
    responses: { 201: { description: "created", schema: scenarioSchema }, 200: { description: "updated", schema: scenarioSchema } },
  },
  retireScenario: {
    operationId: "retireScenario",
    method: "delete",
    path: "/scenarios/:scenario",
    tag: "scenarios",
    summary: "Retire a scenario: new notices naming it are refused (422)",
    request: { params: scenarioParams },
    responses: { 204: { description: "retired" }, 404: errorResponse("no such (active) scenario") },
  },
});
const ops = scenariosOperations;

/** GET/PUT/DELETE /api/v1/scenarios[/:scenario] (docs/api.md). */
export function scenariosRouter(deps: AppDeps): Router {
  const r = Router();
  mount(r, ops.listScenarios, async (_req, res) => {
    res.json({ scenarios: await listScenarios(deps.db.db) });
  });
  mount(r, ops.getScenario, async (req, res) => {
    const { scenario: name } = parseOr400(scenarioParams, req.params, "params");
    const s = (await lookupScenarios(deps.db.db, [name])).get(name);
    if (!s) throw notFound(`scenario ${name}`);
    res.json(s);
  });
  mount(r, ops.putScenario, async (req, res) => {
    const { scenario: name } = parseOr400(scenarioParams, req.params, "params");
    const input = parseOr400(scenarioBody, req.body);
    const out = await putScenario({ db: deps.db.db, clock: deps.clock, name, input });
    req.log.info({ scenario: name, pnpApproved: out.scenario.pnpApproved, created: out.created }, "scenario saved");
    res.status(out.created ? 201 : 200).json(out.scenario);
  });
  mount(r, ops.retireScenario, async (req, res) => {
    const { scenario: name } = parseOr400(scenarioParams, req.params, "params");
    if (!(await retireScenario({ db: deps.db.db, clock: deps.clock, name }))) throw notFound(`scenario ${name}`);
    req.log.info({ scenario: name }, "scenario retired");
    res.status(204).end();
  });
  return r;
}

/** An unknown (or retired) scenario, named. */
export const unknownScenario = (name: string) =>
  new AppError("unprocessable", `scenario ${name} is not in this account's scenario registry (PUT /api/v1/scenarios/${name} to add it)`);
