import type { Sql } from "postgres";
import type { AnyWorker } from "./workers/define-worker.js";

/**
 * The key of a Queue's internals, for docket's own modules (`docket/testing`). Not exported from
 * the package's entry point: applications have no business with it.
 */
export const queueInternals = Symbol("docket.queueInternals");

/** What `docket/testing` needs of a Queue. */
export interface QueueInternals {
  sql: Sql;
  workers: ReadonlyMap<string, AnyWorker>;
}
