// The plans of the claim and staging statements right after a burst: the table's
// statistics say its rows are available (or scheduled) while they are finished now. Prepared
// statements turn generic after a few runs; these tests force the generic plan and check that
// it never reads the whole table.
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { compile } from "./executor.js";
import { fetchJobs, stageJobs } from "./jobs.js";

const db = useTestDatabase();
const burst = 20_000;

beforeEach(async () => {
  await db.sql`TRUNCATE docket.jobs`;
});

/** A burst of `state` jobs, analyzed, then finished without a new ANALYZE, plus a few waiting. */
async function afterBurst(state: "available" | "scheduled") {
  await db.sql`
    INSERT INTO docket.jobs (queue, worker, args, state, scheduled_at)
    SELECT 'default', 'w', '{}', ${state}::docket.job_state, now() - interval '1 minute'
    FROM generate_series(1, ${burst})`;
  await db.sql`ANALYZE docket.jobs`;
  await db.sql`
    UPDATE docket.jobs SET state = 'completed', attempt = 1,
      completed_at = now() - interval '2 days'`;
  await db.sql`
    INSERT INTO docket.jobs (queue, worker, args, state, scheduled_at)
    SELECT 'default', 'w', '{}', ${state}::docket.job_state, now() - interval '1 minute'
    FROM generate_series(1, 5)`;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Rows"?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Runs `query` as a generic prepared plan inside a rolled-back transaction; returns its plan. */
async function genericPlan(query: ReturnType<typeof compile>): Promise<PlanNode[]> {
  let plan: PlanNode | undefined;
  await db.sql
    .begin(async (tx) => {
      await tx`SET LOCAL plan_cache_mode = force_generic_plan`;
      const types = query.parameters.map((value) =>
        typeof value === "number" ? (Number.isInteger(value) ? "integer" : "float8") : "text",
      );
      await tx.unsafe(`PREPARE docket_plan(${types.join(", ")}) AS ${query.sql}`);
      // EXECUTE takes literals: these are the test's own constants (numbers and plain names).
      const args = query.parameters
        .map((value) => (typeof value === "number" ? String(value) : `'${String(value)}'`))
        .join(", ");
      const [row] = await tx.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE docket_plan(${args})`);
      plan = (row as unknown as { "QUERY PLAN": { Plan: PlanNode }[] })["QUERY PLAN"][0]?.Plan;
      await tx.unsafe("DEALLOCATE docket_plan");
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  if (!plan) throw new Error("no plan");
  return nodes(plan);
}

class Rollback extends Error {}

function seqScans(plan: PlanNode[]): PlanNode[] {
  return plan.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "jobs");
}

describe("generic plans after a burst", () => {
  test("the claim probes the primary key, never scans the finished rows", async () => {
    await afterBurst("available");
    const plan = await genericPlan(compile(fetchJobs("docket", "default", 10, "node-a")));
    expect(seqScans(plan)).toEqual([]);
    expect(plan.find((n) => n["Node Type"] === "ModifyTable")?.["Actual Rows"]).toBe(5);
  });

  test("staging probes the primary key, never scans the finished rows", async () => {
    await afterBurst("scheduled");
    const plan = await genericPlan(compile(stageJobs("docket", 1000)));
    expect(seqScans(plan)).toEqual([]);
    expect(plan.find((n) => n["Node Type"] === "ModifyTable")?.["Actual Rows"]).toBe(5);
  });
});
