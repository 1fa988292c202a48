import type { Sql, TransactionSql } from "postgres";
import * as admin from "../admin/admin.js";
import { CronSchedule } from "../cron/cron-expression.js";
import { run } from "../sql/executor.js";
import * as statements from "../sql/observability/dashboard.js";
import { type Job, type JobState, jobStates } from "../types.js";

/**
 * What the dashboard reads, each read in its own short transaction under a `statement_timeout`,
 * so that a slow query on a big table fails fast instead of holding a connection.
 */

/** A count shown on a page: exact, or estimated from the table's statistics above a threshold. */
export interface ShownCount {
  count: number;
  estimated: boolean;
}

/** One queue on the queues page. */
export interface QueueView {
  name: string;
  counts: Record<JobState, ShownCount>;
  /** How long its oldest due available job has waited; null when none waits. */
  oldestAvailableAgeMs: number | null;
  paused: boolean;
  /** The limit set with `scaleQueue` for every node, else null (each node's configured one). */
  storedLimit: number | null;
  /** Nodes running it now, with their limit and how many of its jobs each executes. */
  nodes: { node: string; limit: number | null; executing: number }[];
}

/** One node on the nodes page. */
export interface NodeView {
  node: string;
  queues: { queue: string; concurrency: number }[];
  startedAt: Date;
  heartbeatAgeMs: number;
  alive: boolean;
  leader: boolean;
}

/** One cron entry with its last and next slot. */
export interface CronView {
  name: string;
  expression: string;
  timezone: string;
  lastSlot: Date | null;
  lastJobId: string | null;
  nextSlot: Date | null;
}

/** Settings of a {@link DashboardData}. */
export interface DashboardDataOptions {
  schema: string;
  statementTimeoutMs: number;
  /** Counts up to this are exact; above it they are estimated. */
  exactCountLimit: number;
  /** How long the queues page's counts are reused. */
  cacheTtlMs: number;
  /** A producer whose heartbeat is older than this is shown as gone. */
  heartbeatTimeoutMs: number;
}

type Tx = TransactionSql;

/** The dashboard's reads on one database. */
export class DashboardData {
  readonly #sql: Sql;
  readonly #options: DashboardDataOptions;
  #queues: { at: number; value: Promise<QueueView[]> } | undefined;

  constructor(sql: Sql, options: DashboardDataOptions) {
    this.#sql = sql;
    this.#options = options;
  }

  /** Runs `read` in a read-only transaction with the dashboard's statement timeout. */
  async read<T>(read: (tx: Tx) => Promise<T>): Promise<T> {
    return (await this.#sql.begin("read only", async (tx) => {
      await run(tx, statements.setStatementTimeout(this.#options.statementTimeoutMs));
      return read(tx);
    })) as T;
  }

  /** Every queue with jobs, stored state or a producer; counts cached for `cacheTtlMs`. */
  queues(): Promise<QueueView[]> {
    const now = Date.now();
    if (!this.#queues || now - this.#queues.at > this.#options.cacheTtlMs) {
      const value = this.read((tx) => this.#readQueues(tx));
      value.catch(() => {
        if (this.#queues?.value === value) this.#queues = undefined;
      });
      this.#queues = { at: now, value };
    }
    return this.#queues.value;
  }

  /** Forgets cached counts, after an action changed them. */
  invalidate(): void {
    this.#queues = undefined;
  }

  async #readQueues(tx: Tx): Promise<QueueView[]> {
    const { schema, exactCountLimit } = this.#options;
    const counts = new Map<string, Record<JobState, ShownCount>>();
    const countsOf = (queue: string) => {
      let entry = counts.get(queue);
      if (!entry) {
        entry = Object.fromEntries(
          jobStates.map((s) => [s, { count: 0, estimated: false }]),
        ) as Record<JobState, ShownCount>;
        counts.set(queue, entry);
      }
      return entry;
    };
    for (const state of jobStates) {
      const rows = await run(tx, statements.countStateByQueue(schema, state, exactCountLimit + 1));
      const sampled = rows.reduce((sum, r) => sum + r.count, 0);
      if (sampled <= exactCountLimit) {
        for (const row of rows) countsOf(row.queue)[state] = { count: row.count, estimated: false };
        continue;
      }
      // Past the threshold: the planner's estimate of the state, split as the sample is.
      const [plan] = await run(tx, statements.explainStateCount(schema, state));
      const total = Math.max(plan?.["QUERY PLAN"][0].Plan["Plan Rows"] ?? 0, sampled);
      for (const row of rows) {
        countsOf(row.queue)[state] = {
          count: Math.round((total * row.count) / sampled),
          estimated: true,
        };
      }
    }
    const stored = await run(tx, statements.selectQueueRows(schema));
    const producers = await run(tx, statements.selectProducers(schema));
    const executing = await run(tx, statements.executingByNode(schema));
    const names = new Set<string>([
      ...counts.keys(),
      ...stored.map((r) => r.name),
      ...producers.map((p) => p.queue),
    ]);
    const sorted = [...names].sort();
    const ages = await run(tx, statements.oldestAvailableAge(schema, sorted));
    const ageOf = new Map(ages.map((a) => [a.queue, a.age_ms]));
    return sorted.map((name) => {
      const row = stored.find((r) => r.name === name);
      const nodes = new Map<string, { node: string; limit: number | null; executing: number }>();
      for (const p of producers) {
        if (p.queue !== name || p.heartbeat_age_ms > this.#options.heartbeatTimeoutMs) continue;
        nodes.set(p.node, { node: p.node, limit: p.concurrency, executing: 0 });
      }
      for (const e of executing) {
        if (e.queue !== name) continue;
        const node = e.node ?? "(unknown)";
        const entry = nodes.get(node) ?? { node, limit: null, executing: 0 };
        entry.executing += e.count;
        nodes.set(node, entry);
      }
      return {
        name,
        counts: countsOf(name),
        oldestAvailableAgeMs: ageOf.get(name) ?? null,
        paused: row?.paused ?? false,
        storedLimit: row?.concurrency ?? null,
        nodes: [...nodes.values()],
      };
    });
  }

  /** A page of jobs and how many match in all (capped). */
  jobs(
    filter: admin.JobFilter,
    page: { after?: string; limit: number },
  ): Promise<{ page: admin.JobPage; total: ShownCount }> {
    return this.read(async (tx) => {
      const listed = await admin.listJobs(tx, this.#options.schema, {
        ...filter,
        limit: page.limit,
        after: page.after,
        order: "desc",
      });
      const { count, exact } = await admin.countJobs(
        tx,
        this.#options.schema,
        filter,
        this.#options.exactCountLimit,
      );
      return { page: listed, total: { count, estimated: !exact } };
    });
  }

  /** How many jobs a bulk action on `filter` would touch, counted up to `cap`. */
  count(filter: admin.JobFilter, cap: number): Promise<{ count: number; exact: boolean }> {
    return this.read((tx) => admin.countJobs(tx, this.#options.schema, filter, cap));
  }

  /** The live and recently seen nodes, the leader marked. */
  nodes(): Promise<NodeView[]> {
    return this.read(async (tx) => {
      const { schema, heartbeatTimeoutMs } = this.#options;
      const producers = await run(tx, statements.selectProducers(schema));
      const leases = await run(tx, statements.selectLeases(schema));
      const leaders = new Set(leases.map((l) => l.node));
      const nodes = new Map<string, NodeView>();
      for (const p of producers) {
        const node = nodes.get(p.node) ?? {
          node: p.node,
          queues: [],
          startedAt: p.started_at,
          heartbeatAgeMs: p.heartbeat_age_ms,
          alive: false,
          leader: leaders.has(p.node),
        };
        node.queues.push({ queue: p.queue, concurrency: p.concurrency });
        node.heartbeatAgeMs = Math.min(node.heartbeatAgeMs, p.heartbeat_age_ms);
        node.alive = node.heartbeatAgeMs <= heartbeatTimeoutMs;
        if (p.started_at < node.startedAt) node.startedAt = p.started_at;
        nodes.set(p.node, node);
      }
      for (const lease of leases) {
        if (!nodes.has(lease.node)) {
          nodes.set(lease.node, {
            node: lease.node,
            queues: [],
            startedAt: lease.elected_at,
            heartbeatAgeMs: 0,
            alive: true,
            leader: true,
          });
        }
      }
      return [...nodes.values()].sort((a, b) => a.node.localeCompare(b.node));
    });
  }

  /** The cron entries the leader registered, with their last slot and next one. */
  cron(): Promise<CronView[]> {
    return this.read(async (tx) => {
      const rows = await run(tx, statements.selectCronEntries(this.#options.schema));
      return rows.map((row) => {
        let nextSlot: Date | null = null;
        try {
          nextSlot = new CronSchedule(row.expression, row.timezone).next(row.now) ?? null;
        } catch {
          nextSlot = null; // an entry stored by another version, with an expression this one refuses
        }
        return {
          name: row.name,
          expression: row.expression,
          timezone: row.timezone,
          lastSlot: row.last_slot,
          lastJobId: row.last_job_id,
          nextSlot,
        };
      });
    });
  }

  /** One job, or null. */
  job(id: string): Promise<Job | null> {
    return this.read(async (tx) => {
      const { jobs } = await admin.listJobs(tx, this.#options.schema, { ids: [id], limit: 1 });
      return jobs[0] ?? null;
    });
  }
}
