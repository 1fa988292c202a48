// The plans of the claim and staging statements right after a burst: the table's
// statistics say its rows are available (or scheduled) while they are finished now. Prepared
// statements turn generic after a few runs; these tests force the generic plan and check that
// it never reads the whole table.
import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { migrateSchema } from "../../../../test/support/schemas.js";
import { ackJobs } from "./ack.js";
import { compile, run } from "./executor.js";
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
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Parent Relationship"?: string;
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

/** Runs `query` with its parameters under EXPLAIN ANALYZE, rolled back; returns its plan. */
async function analyzedPlan(query: ReturnType<typeof compile>): Promise<PlanNode[]> {
  let plan: PlanNode | undefined;
  await db.sql
    .begin(async (tx) => {
      const [row] = await tx.unsafe(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${query.sql}`,
        query.parameters as never[],
      );
      plan = (row as unknown as { "QUERY PLAN": { Plan: PlanNode }[] })["QUERY PLAN"][0]?.Plan;
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

  test("with many jobs available and no statistics, the claim updates its rows found by id", async () => {
    await db.sql`
      INSERT INTO docket.jobs (queue, worker, args)
      SELECT 'default', 'w', '{}' FROM generate_series(1, ${burst})`;
    const plan = await genericPlan(compile(fetchJobs("docket", "default", 10, "node-a")));
    // The UPDATE's own scan (beside the subquery that picks the rows) probes the ids: a scan of
    // the fetch index would walk every available job for the ten (10× slower, seen).
    const update = plan.find((n) => n["Node Type"] === "ModifyTable") as PlanNode;
    const scan = update.Plans?.find((n) => n["Parent Relationship"] === "Outer");
    expect(scan?.["Index Name"]).toMatch(/^jobs(_live)?_(pkey|id_idx)$/);
    expect(update["Actual Rows"]).toBe(10);
  });

  test("the prepared claim keeps one generic plan instead of planning each time", async () => {
    await afterBurst("available");
    const connection = await db.sql.reserve();
    try {
      for (let k = 0; k < 10; k++) await run(connection, fetchJobs("docket", "default", 21, "n"));
      const [row] = await connection<{ generic: number; custom: number }[]>`
        SELECT generic_plans::int AS generic, custom_plans::int AS custom
        FROM pg_prepared_statements
        WHERE statement LIKE '%WITH next AS%' AND statement NOT LIKE '%pg_prepared_statements%'`;
      // Five custom plans first (PostgreSQL's rule), then the generic one each time.
      expect(row).toEqual({ generic: 5, custom: 5 });
    } finally {
      connection.release();
    }
  });

  test("staging probes the primary key, never scans the finished rows", async () => {
    await afterBurst("scheduled");
    const plan = await genericPlan(compile(stageJobs("docket", 1000)));
    expect(seqScans(plan)).toEqual([]);
    expect(plan.find((n) => n["Node Type"] === "ModifyTable")?.["Actual Rows"]).toBe(5);
  });
});

describe("the ack on a table never analyzed", () => {
  // Statistics that see no job executing (never analyzed, or analyzed before a burst was
  // claimed) make the planner guess one row per batch. A batch joined with its jobs is then
  // looped over once per job: 500 × 500 comparisons, 100 ms for what takes 5.
  test.each([
    ["plain", "ack_plain"],
    ["partitioned", "ack_part"],
  ] as const)(
    "on the %s layout, a batch of 500 is stored in one pass over its jobs",
    async (layout, schema) => {
      await migrateSchema(db.sql, schema, layout);
      try {
        await db.sql`
        INSERT INTO ${db.sql(schema)}.jobs (queue, worker, args)
        SELECT 'default', 'bench.noop', jsonb_build_object('i', g) FROM generate_series(1, ${burst}) AS g`;
        const claimed = await run(db.sql, fetchJobs(schema, "default", 500, "node-a"));
        expect(claimed).toHaveLength(500);
        const ack = ackJobs(
          schema,
          "node-a",
          { ids: claimed.map((j) => j.id), attempts: claimed.map((j) => j.attempt) },
          [],
        );
        const plan = await analyzedPlan(compile(ack));
        // Nothing that yields more than a row is scanned again per job (a one-row lookup may be).
        const rescanned = plan.filter(
          (n) => (n["Actual Loops"] ?? 1) > 1 && (n["Actual Rows"] ?? 0) > 1,
        );
        expect(rescanned.map((n) => n["Node Type"])).toEqual([]);
        expect(seqScans(plan)).toEqual([]);
        expect(plan.find((n) => n["Node Type"] === "ModifyTable")?.["Actual Rows"]).toBe(500);
      } finally {
        await db.sql`DROP SCHEMA ${db.sql(schema)} CASCADE`;
      }
    },
  );
});
