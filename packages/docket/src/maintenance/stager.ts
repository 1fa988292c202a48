import { type Executor, run } from "../sql/executor.js";
import { stageJobs } from "../sql/jobs.js";

/** What one staging run did. */
export interface StageResult {
  /** Jobs made available, by queue. */
  staged: Record<string, number>;
}

/**
 * Makes due `scheduled` and `retryable` jobs `available`, in batches, and wakes their queues
 * through NOTIFY.
 */
export class Stager {
  constructor(
    private readonly executor: Executor,
    private readonly schema: string,
    private readonly batchSize = 5000,
  ) {}

  /** Stages everything that is due now. */
  async runOnce(): Promise<StageResult> {
    const staged: Record<string, number> = {};
    for (;;) {
      const rows = await run(this.executor, stageJobs(this.schema, this.batchSize));
      let total = 0;
      for (const row of rows) {
        staged[row.queue] = (staged[row.queue] ?? 0) + row.count;
        total += row.count;
      }
      if (total < this.batchSize) return { staged };
    }
  }
}
