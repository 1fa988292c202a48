import { toJob } from "../db/job-row.js";
import { type Executor, run } from "../sql/executor.js";
import { selectDependencies } from "../sql/jobs.js";
import type { Job } from "../types.js";
import type { DependencyReader } from "../workers/run-job.js";

/**
 * What `PerformContext.dependencies()` runs on a node: one query for the dependencies a job's
 * row lists, made only when `perform` asks (jobs without dependencies never pay for it).
 */
export function dependencyReader(executor: Executor, schema: string): DependencyReader {
  return async (id) => {
    const rows = await run(executor, selectDependencies(schema, id));
    return new Map<string, Job>(rows.map((row) => [String(row.id), toJob(row)]));
  };
}
