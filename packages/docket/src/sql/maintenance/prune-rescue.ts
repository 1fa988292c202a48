import { type RawBuilder, sql } from "kysely";
import type { JobState } from "../../types.js";
import { insertChannel } from "../jobs.js";

/**
 * The statements of the pruner and the lifeline on the `jobs` table. Each touches at most one
 * batch of rows and runs as its own short transaction, and none waits long behind the producers,
 * the acker or an admin call: they lock rows with SKIP LOCKED, or (the pruner's first try) give
 * up on a lock after a short timeout.
 */

/** The states the pruner deletes. */
export const prunableStates = ["completed", "cancelled", "discarded"] as const;

/** A state the pruner deletes. */
export type PrunableState = (typeof prunableStates)[number];

/**
 * Each state as a literal and its own timestamp. The literal (not a parameter) lets the planner
 * match the partial index `jobs_prune_<state>_idx`, also in a prepared statement's generic plan.
 */
const pruneTargets: Record<
  PrunableState,
  { state: RawBuilder<unknown>; column: RawBuilder<unknown> }
> = {
  completed: { state: sql`'completed'`, column: sql.id("completed_at") },
  cancelled: { state: sql`'cancelled'`, column: sql.id("cancelled_at") },
  discarded: { state: sql`'discarded'`, column: sql.id("discarded_at") },
};

/**
 * Deletes up to `limit` jobs in `state` whose own timestamp (`completed_at`, `cancelled_at` or
 * `discarded_at`) is older than `maxAgeMs`, oldest first, walking that state's partial index.
 * With `skipLocked` the rows are locked first and those that others hold are skipped; that costs
 * a second write of every row, so the pruner tries the plain DELETE first (see Pruner).
 */
/**
 * Deletes up to `limit` jobs of `state` older than `maxAgeMs` by that state's own timestamp, from
 * `table`: `jobs`, or on the partitioned layout the state's default partition (its days are
 * dropped whole, see partitions.ts).
 */
export function pruneJobs(
  schema: string,
  state: PrunableState,
  maxAgeMs: number,
  limit: number,
  skipLocked: boolean,
  table = "jobs",
) {
  const jobs = sql.id(schema, table);
  const target = pruneTargets[state];
  return sql<{ deleted: number }>`
    WITH doomed AS (
      SELECT id FROM ${jobs}
      WHERE state = ${target.state}
        AND ${target.column} < now() - ${maxAgeMs}::double precision * interval '1 millisecond'
      ORDER BY ${target.column}, id
      LIMIT ${limit}
      ${skipLocked ? sql`FOR UPDATE SKIP LOCKED` : sql``}
    ), deleted AS (
      DELETE FROM ${jobs} AS j USING doomed
      WHERE j.id = doomed.id AND j.state = ${target.state}
      RETURNING 1
    )
    SELECT count(*)::integer AS deleted FROM deleted`;
}

/** One job the lifeline rescued or discarded. */
export interface RescuedRow {
  id: string;
  state: Extract<JobState, "available" | "discarded">;
  queue: string;
  worker: string;
  attempt: number;
  attempted_by: string | null;
  reason: string;
}

/** How the lifeline decides that an executing job is orphaned. */
export interface RescueCriteria {
  /** Trust producer heartbeats (accurate rescue) or go by `rescueAfterMs` alone. */
  trustHeartbeats: boolean;
  heartbeatTimeoutMs: number;
  rescueAfterMs: number;
  limit: number;
  /** Only the jobs of producers that stopped heartbeating, not those rescued by time. */
  heartbeatsOnly?: boolean;
}

function ago(ms: number) {
  return sql`now() - ${ms}::double precision * interval '1 millisecond'`;
}

/**
 * The reason a job is orphaned, or NULL if it is not. With heartbeats trusted: its producer's
 * row is stale, or missing for longer than the heartbeat timeout (nodes write their row before
 * they fetch, so a missing row means the producer stopped or was removed as stale); a job that
 * names no node falls back to `rescueAfter`. A producer that heartbeats vouches for its jobs
 * however long they run. Without trust: `rescueAfter` alone, as Oban's lifeline does.
 */
function orphanReason(criteria: RescueCriteria) {
  const age = sql`(j.attempted_at IS NULL OR j.attempted_at < ${ago(criteria.rescueAfterMs)})`;
  const byTime = criteria.heartbeatsOnly
    ? sql`NULL::text`
    : sql`CASE WHEN ${age} THEN 'executing longer than rescueAfter' END`;
  if (!criteria.trustHeartbeats) return byTime;
  const stale = ago(criteria.heartbeatTimeoutMs);
  return sql`CASE
    WHEN j.attempted_by IS NULL THEN ${byTime}
    WHEN p.node IS NOT NULL THEN CASE WHEN p.heartbeat_at < ${stale}
      THEN 'producer ' || j.attempted_by || '/' || j.queue || ' stopped heartbeating' END
    WHEN j.attempted_at IS NULL OR j.attempted_at < ${stale}
      THEN 'producer ' || j.attempted_by || '/' || j.queue || ' is gone'
    END`;
}

/**
 * Moves up to `limit` orphaned executing jobs back to `available` (attempt kept, `meta.rescued`
 * counted, the reason added to `errors`), or to `discarded` when no attempt is left, and wakes
 * their queues. The UPDATE re-checks `state = 'executing'` on the locked row, so a job that
 * completes at that moment keeps its outcome.
 */
export function rescueJobs(schema: string, criteria: RescueCriteria) {
  const jobs = sql.id(schema, "jobs");
  const producers = sql.id(schema, "producers");
  const state = sql.id(schema, "job_state");
  return sql<RescuedRow>`
    WITH orphans AS (
      SELECT j.id, r.reason
      FROM ${jobs} AS j
      LEFT JOIN ${producers} AS p ON p.node = j.attempted_by AND p.queue = j.queue
      CROSS JOIN LATERAL (SELECT ${orphanReason(criteria)} AS reason) AS r
      WHERE j.state = 'executing' AND r.reason IS NOT NULL
      ORDER BY j.attempted_at, j.id
      LIMIT ${criteria.limit}
      FOR UPDATE OF j SKIP LOCKED
    ), rescued AS (
      UPDATE ${jobs} AS j SET
        state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::${state} ELSE 'available'::${state} END,
        discarded_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE j.discarded_at END,
        meta = j.meta || jsonb_build_object('rescued',
          CASE WHEN jsonb_typeof(j.meta -> 'rescued') = 'number' THEN (j.meta ->> 'rescued')::numeric ELSE 0 END + 1),
        errors = j.errors || jsonb_build_array(jsonb_build_object(
          'attempt', j.attempt, 'at', now(), 'error', 'rescued by the lifeline: ' || o.reason))
      FROM orphans o
      WHERE j.id = o.id AND j.state = 'executing'
      RETURNING j.id, j.state, j.queue, j.worker, j.attempt, j.attempted_by, o.reason
    )
    SELECT r.*, (
      SELECT count(pg_notify(${insertChannel(schema)}, q.queue))
      FROM (SELECT DISTINCT queue FROM rescued WHERE state = 'available') q
    ) AS notified
    FROM rescued r ORDER BY r.id`;
}
