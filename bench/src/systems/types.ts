// The one interface through which every scenario drives docket and its peers.

/** Called by a system's worker as its handler starts a job; `i` is the job's number. */
export type OnJob = (i: number) => void | Promise<void>;

/** Options of a system's workers. */
export interface WorkerSettings {
  /** Handlers in flight at most. */
  concurrency: number;
  onJob: OnJob;
  /**
   * docket only: the started node's leader does not prune, so that a scenario's own pruner is the
   * only one (docket's leader prunes at once when it starts).
   */
  withoutPruner?: boolean;
}

/**
 * One job queue under test, on one fresh database. Every job carries `{ i }`, its number, and
 * every worker calls `onJob(i)` as its handler starts; a handler that returns completes the job.
 */
export interface BenchSystem {
  readonly name: string;
  /** The configuration used, for the report. */
  readonly settings: Record<string, unknown>;
  /** Creates the system's tables (migrations) in the empty database. */
  setup(): Promise<void>;
  /** Inserts jobs `from` … `from + count - 1` with the system's best bulk API. */
  insertBulk(from: number, count: number): Promise<void>;
  /** Inserts one job; resolves once it is committed. */
  insertOne(i: number): Promise<void>;
  /** Starts workers on the queue. */
  startWorkers(settings: WorkerSettings): Promise<void>;
  /** Jobs not yet durably finished (still queued, running, or completed in memory only). */
  unfinished(): Promise<number>;
  /** Stops workers and closes connections. */
  stop(): Promise<void>;
}
