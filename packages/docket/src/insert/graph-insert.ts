import type { CleanupTarget } from "../cleanup/define-target.js";
import { asDate } from "../db/job-row.js";
import { InsertError } from "../errors.js";
import { type Executor, run } from "../sql/executor.js";
import {
  type GraphBatch,
  type GraphStepRow,
  insertGraph,
  settleEmptyBatch,
} from "../sql/workflows.js";
import type { Job } from "../types.js";
import type { AnyWorker } from "../workers/define-worker.js";
import { type InsertContext, resolveWorker } from "./insert-jobs.js";
import {
  checkArgs,
  type InsertOptions,
  parseInsertOptions,
  sharedInsertFields,
} from "./insert-options.js";

/**
 * The most jobs one workflow or batch inserts (10,000): they go in one statement, whose JSON
 * document and reply grow with it (see docs/performance.md for what 10,000 cost). Larger work
 * goes in several workflows, or a batch per part.
 */
export const maxGraphJobs = 10_000;

/** The meta key that holds a workflow step's name on its job. */
export const stepKey = "docket:step";

/** Options of one step of a workflow or job of a batch: a subset of the insert options. */
export type StepInsertOptions = Pick<
  InsertOptions,
  "queue" | "priority" | "maxAttempts" | "tags" | "meta" | "onDependencyFailure"
>;

/** One job of a graph before it is checked: what `add` was given. */
export interface PendingStep {
  name: string;
  worker: AnyWorker | CleanupTarget | string;
  args: unknown;
  options: StepInsertOptions | undefined;
  /** Positions of the steps it waits for, already resolved from names and checked. */
  deps: number[];
}

const stepOptionKeys = new Set([
  "queue",
  "priority",
  "maxAttempts",
  "tags",
  "meta",
  "onDependencyFailure",
  "dependsOn",
]);

/**
 * Checks every step (options, args against the worker's schema) and inserts the graph in one
 * statement, on `tx` or the pool. Nothing is written when anything is refused. Returns the jobs
 * in the order of the steps, and the batch's id when there is one.
 */
export async function insertSteps(
  context: InsertContext,
  steps: readonly PendingStep[],
  batch: GraphBatch | null,
  tx: Executor | undefined,
  what: string,
): Promise<{ jobs: Job[]; batchId: string | null }> {
  if (steps.length > maxGraphJobs) {
    throw new InsertError(
      `${what}: ${steps.length} jobs, over the limit of ${maxGraphJobs} per ${what}; split it`,
    );
  }
  if (context.testing === "inline") {
    throw new InsertError(
      `${what}: the "inline" testing mode runs each job at its insert and cannot hold jobs back; use testing: "manual" and drainQueue`,
    );
  }
  const rows: GraphStepRow[] = [];
  const argsJson: string[] = [];
  for (const [i, step] of steps.entries()) {
    const { dependsOn: _names, ...rest } = (step.options ?? {}) as StepInsertOptions & {
      dependsOn?: unknown;
    };
    for (const key of Object.keys(rest)) {
      if (!stepOptionKeys.has(key)) {
        throw new InsertError(
          `${what}: step "${step.name}": option ${key} is not taken by a step (it takes ${[...stepOptionKeys].join(", ")})`,
        );
      }
    }
    const parsed = parseInsertOptions(rest);
    const definition = resolveWorker(context.workers, step.worker);
    if ("unique" in definition && definition.unique) {
      throw new InsertError(
        `${what}: step "${step.name}": worker "${definition.name}" has unique options, which workflows and batches do not take yet`,
      );
    }
    const shared = sharedInsertFields(definition, parsed);
    const json = await checkArgs(definition, step.args, context.maxArgsBytes);
    argsJson.push(json);
    rows.push({
      i,
      queue: shared.queue,
      worker: shared.worker,
      args: JSON.parse(json),
      meta: { ...shared.meta, [stepKey]: step.name },
      tags: shared.tags,
      priority: shared.priority,
      max_attempts: shared.max_attempts,
      deps: step.deps,
      policy: parsed.onDependencyFailure ?? "cancel",
    });
  }
  const insert = async (executor: Executor) => {
    const [reply] = await run(executor, insertGraph(context.schema, JSON.stringify(rows), batch));
    const ids = reply?.ids ? reply.ids.split(",") : [];
    if (!reply || ids.length !== rows.length) {
      throw new InsertError(`${what}: ${rows.length} jobs sent, ${ids.length} stored`);
    }
    if (batch && reply.batch_id && rows.length === 0)
      await run(executor, settleEmptyBatch(context.schema, reply.batch_id));
    return { reply, ids };
  };
  // One statement is all or nothing by itself; an empty batch takes a second one.
  const { reply, ids } =
    tx || rows.length > 0
      ? await insert(tx ?? context.sql)
      : ((await context.sql.begin((t) => insert(t))) as Awaited<ReturnType<typeof insert>>);
  const insertedAt = +asDate(reply.inserted_at);
  const jobs = rows.map(
    (row, k): Job => ({
      id: ids[k] as string,
      state: row.deps.length > 0 ? "scheduled" : "available",
      queue: row.queue,
      worker: row.worker,
      args: JSON.parse(argsJson[k] as string) as Record<string, unknown>,
      meta: row.meta,
      tags: row.tags,
      errors: [],
      attempt: 0,
      maxAttempts: row.max_attempts,
      priority: row.priority,
      insertedAt: new Date(insertedAt),
      // As `dependsOn` reports a waiting job: the time of its insert (stored: 'infinity').
      scheduledAt: new Date(insertedAt),
      attemptedAt: null,
      completedAt: null,
      cancelledAt: null,
      discardedAt: null,
      attemptedBy: null,
    }),
  );
  return { jobs, batchId: reply.batch_id };
}
