import type { Sql } from "postgres";
import type { Job } from "./types.js";
import type { AnyWorker } from "./workers/define-worker.js";
import type { runJob } from "./workers/run-job.js";

/**
 * The key of a Queue's internals, for docket's own modules (`docket/testing`). Not exported from
 * the package's entry point: applications have no business with it.
 */
export const queueInternals = Symbol("docket.queueInternals");

/** What `docket/testing` needs of a Queue. */
export interface QueueInternals {
  sql: Sql;
  workers: ReadonlyMap<string, AnyWorker>;
  /** Hooks around inserts and attempts (`docket/otel`); set and cleared by their owner. */
  instrumentation: Instrumentation;
}

/** What one insert call inserts, for {@link Instrumentation.insert}. */
export interface InsertCall {
  count: number;
  meta: Record<string, unknown> | undefined;
}

/**
 * Wrappers a tracer installs on a queue. Each is read on every call, so installing one on a
 * started queue takes effect at its next insert or attempt; unset, the paths pay nothing.
 */
export interface Instrumentation {
  /** Wraps one `insert`/`insertMany` call; `insert` runs it with (possibly changed) meta. */
  insert?: (
    call: InsertCall,
    insert: (meta: Record<string, unknown> | undefined) => Promise<Job[]>,
  ) => Promise<Job[]>;
  /**
   * Runs one attempt of a job on this node in place of `runJob` (same arguments, same outcome):
   * it calls `runJob` itself, around whatever it adds. Taking runJob's arguments rather than a
   * callback spares the caller a closure per attempt.
   */
  attempt?: typeof runJob;
}
