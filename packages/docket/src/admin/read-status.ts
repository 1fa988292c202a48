import { ConfigError, MigrationError } from "../errors.js";
import { flowFromStored, type ParsedFlowOptions, type StoredFlow } from "../flow/flow-options.js";
import { type Executor, run } from "../sql/executor.js";
import { selectQueueFlows } from "../sql/flow.js";
import {
  countJobsByQueueAndState,
  selectCurrentLeaders,
  selectLiveProducers,
  selectQueueFlags,
  selectTables,
} from "../sql/observability/status.js";
import { type JobState, jobStates } from "../types.js";
import { type Duration, parseDuration } from "../validation/duration.js";
import { checkIdentifier } from "../validation/identifiers.js";

/** One queue as `docket status` shows it. */
export interface QueueSummary {
  name: string;
  /** Paused for the whole cluster (from `pauseQueue`). */
  paused: boolean;
  /** Jobs of the queue in each state. */
  counts: Record<JobState, number>;
  /**
   * The flow limits in force for the whole cluster (docs/flow-control.md), periods in
   * milliseconds; null when the queue has none.
   */
  limits: ParsedFlowOptions | null;
}

/** A lease that has not expired: its holder is the leader for `name`. */
export interface LeaderSummary {
  name: string;
  node: string;
  electedAt: Date;
  expiresAt: Date;
}

/** A queue running on a node whose heartbeat is recent. */
export interface ProducerSummary {
  node: string;
  queue: string;
  startedAt: Date;
  heartbeatAt: Date;
  concurrency: number;
}

/** What {@link readStatus} returns. */
export interface StatusReport {
  schema: string;
  /** Every queue that has jobs, is known to the cluster or runs somewhere, by name. */
  queues: QueueSummary[];
  leaders: LeaderSummary[];
  producers: ProducerSummary[];
  /** Optional tables this schema lacks (migrations not applied yet); their parts are empty. */
  missingTables: string[];
}

const optionalTables = ["queues", "leaders", "producers", "flow_rates"] as const;

function emptyCounts(): Record<JobState, number> {
  return Object.fromEntries(jobStates.map((state) => [state, 0])) as Record<JobState, number>;
}

/**
 * Reads the state of the queues of a schema: jobs per state, paused queues, the current leader
 * and the live producers (those whose heartbeat is younger than `heartbeatTimeout`, 10 seconds
 * unless given; use the nodes' `heartbeat.timeout`). Used by `docket status`.
 *
 * @example
 * ```ts
 * const report = await readStatus(sql, "docket");
 * for (const q of report.queues) logger.info(q.name, q.counts.available);
 * ```
 */
export async function readStatus(
  executor: Executor,
  schema: string,
  options: { heartbeatTimeout?: Duration } = {},
): Promise<StatusReport> {
  checkIdentifier(schema, "schema");
  const timeoutMs = parseDuration(options.heartbeatTimeout ?? 10);
  if (timeoutMs === undefined) {
    throw new ConfigError(
      `heartbeatTimeout ${JSON.stringify(options.heartbeatTimeout)} is not a duration`,
      {
        path: "heartbeatTimeout",
      },
    );
  }
  const tables = await run(executor, selectTables(schema, ["jobs", ...optionalTables]));
  const present = new Set(tables.filter((t) => t.present).map((t) => t.table));
  if (!present.has("jobs")) {
    throw new MigrationError(
      `schema "${schema}" has no jobs table: run the migrations first (docket migrate)`,
    );
  }
  const [counts, flags, leaders, producers, flows] = await Promise.all([
    run(executor, countJobsByQueueAndState(schema)),
    present.has("queues") ? run(executor, selectQueueFlags(schema)) : [],
    present.has("leaders") ? run(executor, selectCurrentLeaders(schema)) : [],
    present.has("producers") ? run(executor, selectLiveProducers(schema, timeoutMs)) : [],
    present.has("flow_rates") ? run(executor, selectQueueFlows(schema)) : [],
  ]);

  const queues = new Map<string, QueueSummary>();
  const queue = (name: string) => {
    let summary = queues.get(name);
    if (!summary) {
      summary = { name, paused: false, counts: emptyCounts(), limits: null };
      queues.set(name, summary);
    }
    return summary;
  };
  for (const row of counts) queue(row.queue).counts[row.state] = Number(row.count);
  for (const row of flags) queue(row.name).paused = row.paused;
  for (const row of producers) queue(row.queue);
  for (const row of flows) queue(row.name).limits = flowFromStored(row.flow as StoredFlow);

  return {
    schema,
    queues: [...queues.values()].sort((a, b) => a.name.localeCompare(b.name)),
    leaders: leaders.map((row) => ({
      name: row.name,
      node: row.node,
      electedAt: row.elected_at,
      expiresAt: row.expires_at,
    })),
    producers: producers.map((row) => ({
      node: row.node,
      queue: row.queue,
      startedAt: row.started_at,
      heartbeatAt: row.heartbeat_at,
      concurrency: row.concurrency,
    })),
    missingTables: optionalTables.filter((table) => !present.has(table)),
  };
}
