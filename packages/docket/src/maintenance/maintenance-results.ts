import type { PrunableState } from "../sql/maintenance/prune-rescue.js";

/** Results of the built-in maintenance services' runs, as their events carry them. */

/** What one pruning run did. */
export interface PruneResult {
  /** Jobs deleted in all. */
  deleted: number;
  /** Jobs deleted per final state. */
  byState: Record<PrunableState, number>;
  /**
   * Partitioned layout only: the day partitions dropped whole (`jobs_completed_20261201`, ...),
   * whose jobs are not counted in `deleted`, and the day partitions created ahead.
   */
  partitions?: { dropped: string[]; created: string[] };
}

/** One job the lifeline took back from a producer that is gone. */
export interface RescuedJob {
  id: string;
  queue: string;
  worker: string;
  /** `available` to run again, or `discarded` when it had no attempt left. */
  state: "available" | "discarded";
  /** The attempt that was cut short (kept: the next fetch counts a new one). */
  attempt: number;
  /** The node that was running it. */
  attemptedBy: string | null;
  /** Why it counted as orphaned. */
  reason: string;
}

/** What one lifeline run did. */
export interface RescueResult {
  /** Jobs made `available` again. */
  rescued: number;
  /** Jobs `discarded` because they had used up their attempts. */
  discarded: number;
  /** Every job changed, for logs. */
  jobs: RescuedJob[];
}

/** What one history rollup run did. */
export interface RollupResult {
  /** Whole minutes rolled up into `job_stats` this run. */
  minutes: number;
  /** Rows written (one per queue, worker, outcome and minute). */
  rows: number;
  /** The end of the last minute rolled up so far (the stored watermark), or null if none yet. */
  through: Date | null;
  /** History rows deleted for being older than the retention. */
  deleted: number;
}
