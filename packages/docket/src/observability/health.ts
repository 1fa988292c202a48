import type { Sql } from "postgres";
import type { RunnerHealth } from "../runner/job-runner.js";
import { run } from "../sql/executor.js";
import { ping } from "../sql/observability/health.js";

/**
 * What `queue.health()` reports: whether the node can reach its database, hears its LISTEN,
 * holds the leadership, claims jobs, and stores outcomes. `ready` is what a readiness probe
 * should answer: started, database reachable, no LISTEN known deaf, outcomes not piling up.
 *
 * @example
 * ```ts
 * const health = await queue.health();
 * if (!health.ready) log.warn(health);
 * ```
 */
export interface QueueHealth {
  /** Started, the database answered, the LISTEN (if any) hears itself, acks keep up. */
  ready: boolean;
  /** The node's lifecycle: `idle` (not started), `starting`, `started`, `stopping`, `stopped`. */
  state: string;
  database: { reachable: boolean; latencyMs: number | null; error: string | null };
  /** Whether the LISTEN hears its own pings; null when the node listens to nothing. */
  listening: boolean | null;
  leader: boolean;
  /** This node's queues: paused, limit, jobs held, and its last successful claim. */
  queues: RunnerHealth["queues"];
  /** Outcomes waiting to be stored; `ackBacklogged` once producers stop claiming for it. */
  ackBacklog: number;
  ackBacklogged: boolean;
}

/** Reads a node's health: one `SELECT 1`, bounded by `timeoutMs`, and what the node knows. */
export async function readHealth(parts: {
  sql: Sql;
  state: string;
  leader: boolean;
  runner: RunnerHealth | null;
  timeoutMs: number;
}): Promise<QueueHealth> {
  const database = await probe(parts.sql, parts.timeoutMs);
  const runner = parts.runner ?? {
    listening: null,
    queues: [],
    ackBacklog: 0,
    ackBacklogged: false,
  };
  return {
    ready:
      parts.state === "started" &&
      database.reachable &&
      runner.listening !== false &&
      !runner.ackBacklogged,
    state: parts.state,
    database,
    leader: parts.leader,
    ...runner,
  };
}

async function probe(sql: Sql, timeoutMs: number): Promise<QueueHealth["database"]> {
  const startedAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
  });
  try {
    await Promise.race([run(sql, ping()), timeout]);
    return { reachable: true, latencyMs: performance.now() - startedAt, error: null };
  } catch (error) {
    return {
      reachable: false,
      latencyMs: null,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}
