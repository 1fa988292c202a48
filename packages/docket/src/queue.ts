// Over 400 lines on purpose: the public facade, one TSDoc'd delegation per API call; the work
// is in the folders it composes (docs/architecture.md).
import type { EventEmitter } from "node:events";
import type { Sql } from "postgres";
import * as admin from "./admin/admin.js";
import { type WaitForJobOptions, waitForJob } from "./admin/wait-for-job.js";
import {
  CleanupRegistry,
  type CleanupTargetSummary,
  type RunCleanupOptions,
} from "./cleanup/cleanup-registry.js";
import type { CleanupResult } from "./cleanup/cleanup-run.js";
import type { CleanupTarget } from "./cleanup/define-target.js";
import { loadConfig } from "./config/load-config.js";
import type { ControlContext, QueueCheck, QueueControlOptions } from "./control/control-message.js";
import { controlQueue } from "./control/control-sender.js";
import { Cron } from "./cron/cron.js";
import { resolveCronEntries } from "./cron/cron-options.js";
import { settleArrayTypes } from "./db/connection.js";
import { openListener, openPool } from "./db/connection-options.js";
import type { Listener } from "./db/listen-connection.js";
import { type MigrationStatus, Migrator } from "./db/migrator.js";
import { sessionParameters } from "./db/session-options.js";
import {
  ConfigError,
  errorCode,
  explainPoolerError,
  explainUndefinedTable,
  NotMigratedError,
  QueueStateError,
} from "./errors.js";
import { QueueEventEmitter, type QueueEvents } from "./events.js";
import type { FlowOptions, ParsedFlowOptions } from "./flow/flow-options.js";
import { type FlowContext, readQueueLimits, setQueueLimits } from "./flow/flow-store.js";
import { Batch, type BatchOptions } from "./insert/batch.js";
import type { InsertOptions } from "./insert/insert-options.js";
import { batchOf, type InsertHost, insertGraph, insertMany } from "./insert/queue-inserts.js";
import { Workflow } from "./insert/workflow.js";
import { type Instrumentation, type QueueInternals, queueInternals } from "./internals.js";
import { type Logger, silentLogger } from "./logger.js";
import { Maintenance } from "./maintenance/maintenance-host.js";
import type { Plugin } from "./maintenance/plugin.js";
import { channelHasSubscribers, publishToChannel } from "./observability/diagnostics-channels.js";
import { type QueueHealth, readHealth } from "./observability/health.js";
import { type JobStats, readStats, type StatsOptions } from "./observability/job-stats.js";
import { ProgressEvents } from "./observability/progress-events.js";
import { type ParsedQueueOptions, parseQueueOptions, type QueueOptions } from "./queue-options.js";
import { JobRunner } from "./runner/job-runner.js";
import type { Producer } from "./runner/producer.js";
import { parseStopOptions, type StopOptions } from "./runner/stop-options.js";
import type { Job } from "./types.js";
import { parseDuration } from "./validation/duration.js";
import type { AnyWorker, Worker } from "./workers/define-worker.js";
import { registerWorkers } from "./workers/register-workers.js";

/**
 * A docket node: it inserts jobs, and once started runs the queues of its `queues` option.
 *
 * @example
 * ```ts
 * const queue = new Queue({ connection: process.env.DATABASE_URL, queues: { default: 10 }, workers: [sendEmail] });
 * await queue.migrate();
 * await queue.start();
 * await queue.insert(sendEmail, { to: "a@b.c" });
 * await queue.stop();
 * ```
 */
export class Queue extends QueueEventEmitter {
  readonly options: Readonly<ParsedQueueOptions>;
  readonly #sql: Sql;
  readonly #ownsSql: boolean;
  readonly #listener: Listener;
  readonly #workers: ReadonlyMap<string, AnyWorker>;
  readonly #logger: Logger;
  #runner: JobRunner | undefined;
  readonly #instrumentation: Instrumentation = {};
  #state: "idle" | "starting" | "started" | "stopping" | "stopped" = "idle";
  #stopping: Promise<void> | undefined;
  /** The start under way or last made, settled either way: what `stop()` waits for. */
  #starting: Promise<void> | undefined;
  readonly #maintenance: Maintenance;
  readonly #cleanup: CleanupRegistry;
  readonly #progressEvents: ProgressEvents;
  /** What the inserts of insert/queue-inserts.ts need of this queue. */
  readonly #inserts: InsertHost;

  constructor(options: QueueOptions) {
    super();
    const parsed = parseQueueOptions(options);
    this.#cleanup = new CleanupRegistry(parsed.cleanup);
    // A node that runs queues also runs those of its scheduled cleanup targets.
    this.options = this.#cleanup.withScheduledQueues(parsed);
    this.#logger = this.options.logger ?? silentLogger;
    const runtime = { sql: () => this.#sql, options: this.options, logger: this.#logger };
    this.#workers = registerWorkers(this.options.workers, this.#cleanup.workers(runtime));
    const cronEntries = resolveCronEntries(
      this.options.cron,
      this.#workers,
      this.#cleanup.cronEntries(),
      this.options.maxArgsBytes,
    );
    const cron = new Cron(cronEntries, (worker, args, insertOptions) =>
      this.insert(worker, args, insertOptions),
    );
    const { connection, listen } = this.options;
    const pool = openPool(connection, this.options.poolSize, sessionParameters(this.options));
    this.#ownsSql = pool.owned;
    this.#sql = pool.sql;
    this.#listener = openListener(listen, connection, pool.sql);
    const { schema, testing, maxArgsBytes } = this.options;
    this.#inserts = {
      checkOpen: (what) => {
        if (this.#state === "stopped" && this.#ownsSql)
          throw new QueueStateError(`${what} after stop()`);
      },
      settle: () => (testing === "inline" ? Promise.resolve() : this.#settle()),
      context: { sql: this.#sql, schema, testing, maxArgsBytes, workers: this.#workers },
      instrumentation: this.#instrumentation,
      explain: (error, call) => this.#explain(error, call),
      announces: () => this.#listens("jobs:insert"),
      announce: (group) => this.#emitAny("jobs:insert", group),
    };
    this.#maintenance = new Maintenance({
      executor: this.#sql,
      listener: this.#listener,
      options: this.options,
      builtIns: [cron],
      logger: this.#logger,
      emit: this.#emitExplained,
    });
    this.#progressEvents = new ProgressEvents({
      listener: this.#listener,
      schema: this.schema,
      node: this.node,
      emit: (event) => this.#emitAny("job:progress", event),
      onError: (error) => this.#reportError(error, "progress"),
    });
    // Other nodes' progress is LISTENed for only while someone listens here (see ProgressEvents).
    const events = this as EventEmitter;
    events.on("newListener", (event: string | symbol) => {
      const live = this.#state !== "stopping" && this.#state !== "stopped";
      if (event === "job:progress" && live && this.options.testing === "disabled")
        this.#progressEvents.follow();
    });
    events.on("removeListener", (event: string | symbol) => {
      if (event === "job:progress" && this.listenerCount("job:progress") === 0)
        this.#progressEvents.unfollow();
    });
  }

  /**
   * A queue configured by a `docket.toml`, the environment and `overrides`, in that order of
   * precedence (see docs/configuration.md). Reads the file and the environment when called.
   *
   * @example
   * ```ts
   * const queue = await Queue.fromConfig("docket.toml", { workers: [sendEmail] });
   * ```
   */
  static async fromConfig(
    path = "docket.toml",
    overrides: Partial<QueueOptions> = {},
  ): Promise<Queue> {
    const { options } = await loadConfig(path, { overrides });
    return new Queue(options);
  }

  /** This node's name, stored in `attempted_by` on the jobs it runs. */
  get node(): string {
    return this.options.node;
  }

  /** The schema holding docket's tables. */
  get schema(): string {
    return this.options.schema;
  }

  /**
   * Whether this node leads now: the leader runs the pruner, lifeline, stager and cron. Follow
   * changes with the `leader:change` event.
   */
  get isLeader(): boolean {
    return this.#maintenance.isLeader;
  }

  /**
   * This node's health for probes and dashboards: the database answers (a `SELECT 1` bounded
   * by `timeout`, 2 s by default), the LISTEN hears itself, leadership, each queue's last
   * claim, and the outcomes not yet stored. `ready` is false until started and whenever one
   * of those fails. `docket start --health-port` serves it as `/readyz`. Throws only a
   * `ConfigError` for a bad timeout; an unreachable database is reported, not thrown.
   *
   * @example
   * ```ts
   * const { ready, database } = await queue.health();
   * ```
   */
  health(options: { timeout?: number | string } = {}): Promise<QueueHealth> {
    const timeoutMs = parseDuration(options.timeout ?? 2);
    if (timeoutMs === undefined || timeoutMs <= 0 || timeoutMs > 600_000) {
      throw new ConfigError(
        `health: timeout: expected a duration from 1ms to 10m, got ${JSON.stringify(options.timeout)}`,
      );
    }
    return readHealth({
      sql: this.#sql,
      state: this.#state,
      leader: this.isLeader,
      runner: this.#runner?.health() ?? null,
      timeoutMs,
    });
  }

  /** This node's plugins: the built-in pruner, lifeline and stats (unless off), then `plugins`. */
  get plugins(): readonly Plugin[] {
    return this.#maintenance.plugins;
  }

  /**
   * Applies pending migrations and, with `partitioned: true`, the partitioned layout (online:
   * finished jobs move over in batches before this resolves, docs/scaling.md). Safe to call
   * from many processes at once.
   */
  async migrate(): Promise<MigrationStatus[]> {
    await this.#settle();
    const migrator = new Migrator(this.#sql, this.schema);
    try {
      const applied = await migrator.up();
      if (this.options.partitioned) await migrator.partition();
      return applied;
    } catch (error) {
      throw explainPoolerError(error);
    }
  }

  /**
   * Starts fetching and running the jobs of this node's queues. A start that fails undoes what
   * it began (LISTEN, heartbeat rows, leadership) and leaves the queue idle, so `start()` may be
   * called again; a `stop()` called meanwhile makes it reject with a {@link QueueStateError}.
   *
   * @throws NotMigratedError when docket's migrations are not all applied to the schema.
   */
  async start(): Promise<void> {
    if (this.#state !== "idle")
      throw new QueueStateError(`start() called on a queue that is ${this.#state}`);
    if (this.options.testing !== "disabled") {
      // Testing modes run nothing: jobs ran at insert (inline) or wait for drainQueue (manual).
      this.#state = "started";
      return;
    }
    this.#state = "starting";
    const starting = this.#start();
    this.#starting = starting.catch(() => {});
    return starting;
  }

  async #start(): Promise<void> {
    try {
      await this.#settle();
      await this.#checkMigrated();
      this.#throwIfStopping();
      // Cleanup targets' tables and columns, before anything runs.
      await this.#cleanup.check(this.#sql, this.schema);
      this.#throwIfStopping();
      const runner = new JobRunner({
        sql: this.#sql,
        listener: this.#listener,
        options: this.options,
        workers: this.#workers,
        emit: this.#emitExplained,
        listens: this.#listens,
        instrumentation: this.#instrumentation,
        reportError: (error, source) => this.#reportError(error, source),
      });
      this.#runner = runner;
      // Stored pause and scale before anything can fetch. A LISTEN that cannot hear itself (a
      // pooler in transaction mode) fails here, naming the `listen` option.
      await runner.listen().catch((error: unknown) => {
        this.#reportError(error, "listener");
        throw error;
      });
      this.#throwIfStopping();
      // Heartbeat rows first: the lifeline rescues jobs whose producer has no row.
      await this.#maintenance.start(runner);
      this.#throwIfStopping();
      runner.start();
      this.#state = "started";
      this.#logger.info("docket started", {
        node: this.node,
        queues: [...runner.producers.keys()],
      });
    } catch (caught) {
      const error = explainUndefinedTable(explainPoolerError(caught), this.schema);
      if (this.#stopping) {
        // stop() waits for this start to settle, then undoes it as it stops a started node.
        if (error instanceof QueueStateError) throw error;
        throw new QueueStateError("start() did not finish: stop() was called while it ran", {
          cause: error,
        });
      }
      await this.#undoStart();
      this.#state = "idle";
      throw error;
    }
  }

  /** The check `start()` makes between steps: a `stop()` meanwhile ends the start. */
  #throwIfStopping(): void {
    if (this.#stopping)
      throw new QueueStateError("start() did not finish: stop() was called while it ran");
  }

  /** Refuses to start on a schema missing any of this docket's migrations. */
  async #checkMigrated(): Promise<void> {
    const migrator = new Migrator(this.#sql, this.schema);
    const pending = (await migrator.status()).filter((m) => !m.applied);
    if (pending.length === 0) {
      if (this.options.partitioned && (await migrator.layout()) !== "partitioned") {
        throw new NotMigratedError(
          this.schema,
          "are not partitioned while partitioned is true (the --partitioned flag of docket migrate)",
        );
      }
      return;
    }
    const names = pending.map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`);
    throw new NotMigratedError(
      this.schema,
      `lack ${pending.length} migration(s) (${names.join(", ")})`,
    );
  }

  /** Stops what a failed start began, so that the next `start()` begins afresh. */
  async #undoStart(): Promise<void> {
    const report = (source: string) => (error: unknown) => this.#reportError(error, source);
    await this.#maintenance.resign().catch(report("leadership"));
    await this.#runner?.stop(0).catch(report("runner"));
    await this.#maintenance.stopHeartbeat().catch(report("heartbeat"));
    this.#runner = undefined;
  }

  /**
   * Stops the node: no more fetching, running jobs get `grace` to finish, then their signals
   * abort and unfinished jobs go back to `available` without using up an attempt. Resolves
   * once nothing of this node is left executing. Calling it again returns the same promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    let graceMs: number;
    try {
      graceMs = parseStopOptions(options, this.options.shutdownGrace);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#state = "stopping";
    await this.#starting; // a start under way ends at its next step; then it is undone below
    const resigned = this.#maintenance.resign(); // leadership is given up at once
    await this.#runner?.stop(graceMs);
    await resigned;
    await this.#maintenance.stopHeartbeat();
    await this.#listener.end().catch((error: unknown) => this.#reportError(error, "listener"));
    if (this.#ownsSql) await this.#sql.end({ timeout: 5 });
    this.#state = "stopped";
    this.#logger.info("docket stopped", { node: this.node });
  }

  /**
   * Inserts one job. Args are checked against the worker's schema first; with `tx` the job is
   * part of that transaction and exists only if it commits.
   */
  async insert<Args = Record<string, unknown>, Input = Args>(
    worker: Worker<Args, Input> | CleanupTarget | string,
    args: NoInfer<Input>,
    options?: InsertOptions,
  ): Promise<Job<Args>> {
    const [job] = await this.insertMany(worker, [args], options);
    return job as Job<Args>;
  }

  /** Inserts many jobs of one worker in one statement per few thousand jobs, all or none. */
  insertMany<Args = Record<string, unknown>, Input = Args>(
    worker: Worker<Args, Input> | CleanupTarget | string,
    argsList: readonly NoInfer<Input>[],
    options?: InsertOptions,
  ): Promise<Job<Args>[]> {
    return insertMany(this.#inserts, worker as AnyWorker, argsList, options) as Promise<
      Job<Args>[]
    >;
  }

  /**
   * Starts a workflow: named steps that wait for each other (fan-out, fan-in, chains), inserted
   * by its `insert()` in one statement, all or nothing. See docs/workflows.md.
   *
   * @example
   * ```ts
   * const jobs = await queue.workflow()
   *   .add("transcode", transcode, { videoId })
   *   .add("publish", publish, { videoId }, { dependsOn: ["transcode"] })
   *   .insert();
   * ```
   */
  workflow<Args = Record<string, unknown>, Input = Args>(
    options?: BatchOptions<Args, Input>,
  ): Workflow {
    return new Workflow(async (steps, tx) => {
      const batch = options
        ? await batchOf(this.#inserts, options as unknown as BatchOptions<never, never>)
        : null;
      return (await insertGraph(this.#inserts, steps, batch, tx, "workflow")).jobs;
    });
  }

  /**
   * Starts a batch: jobs inserted together, and a callback job inserted exactly once when all of
   * them have finished (or at the first discard, with `callbackOn: "discarded"`), with the
   * counts per outcome in its `args.batch`. See docs/workflows.md.
   *
   * @example
   * ```ts
   * const { id } = await queue
   *   .batch({ callback: { worker: importDone, args: { importId } } })
   *   .addMany(importRow, rows)
   *   .insert();
   * ```
   */
  batch<Args = Record<string, unknown>, Input = Args>(options: BatchOptions<Args, Input>): Batch {
    return new Batch(
      async (steps, batchOptions, tx) =>
        insertGraph(this.#inserts, steps, await batchOf(this.#inserts, batchOptions), tx, "batch"),
      options as unknown as BatchOptions<never, never>,
    );
  }

  /**
   * Waits until a job finishes, from any process (one that runs no queues too): resolves with
   * the completed job (its result in `meta.result`); rejects with `JobDiscardedError`,
   * `JobCancelledError`, `WaitTimeoutError` after `timeout`, or the signal's reason. Woken by a
   * NOTIFY from the ack that finishes the job, with a poll (`pollInterval`, 1 s) as fallback.
   *
   * @example
   * ```ts
   * const job = await queue.insert(render, { pageId });
   * const done = await queue.waitForJob(job.id, { timeout: "30s" });
   * ```
   */
  waitForJob(id: string | number | bigint, options?: WaitForJobOptions): Promise<Job> {
    return this.#admin("waitForJob", async () => {
      await this.#settle();
      return waitForJob(
        { sql: this.#sql, schema: this.schema, listener: this.#listener },
        String(id),
        options,
      );
    });
  }

  /** One job by id, or null. */
  getJob(id: string | number | bigint): Promise<Job | null> {
    return this.#admin("getJob", () => admin.getJob(this.#sql, this.schema, id));
  }

  /**
   * A page of jobs matching a filter, in id order; pass `next` as `after` for the next page.
   *
   * @example
   * ```ts
   * const { jobs, next } = await queue.listJobs({ state: "retryable", queue: "mailers", limit: 50 });
   * ```
   */
  listJobs(options?: admin.ListJobsOptions): Promise<admin.JobPage> {
    return this.#admin("listJobs", () => admin.listJobs(this.#sql, this.schema, options));
  }

  /**
   * How many jobs match `filter`, counting at most `max` (default 100,000): past it `exact` is
   * false and `count` is `max`, so that counting stays cheap on a table of millions.
   */
  countJobs(filter: admin.JobFilter, max = 100_000): Promise<{ count: number; exact: boolean }> {
    return this.#admin("countJobs", () => admin.countJobs(this.#sql, this.schema, filter, max));
  }

  /**
   * Cancels a job that has not finished; if it is executing, its signal aborts on whichever
   * node runs it. Returns the cancelled job, or null if it had finished already; throws
   * `JobNotFoundError` for a missing job.
   */
  cancelJob(id: admin.JobId): Promise<Job | null> {
    return this.#admin("cancelJob", () => admin.cancelJob(this.#sql, this.schema, id));
  }

  /** Cancels the matching jobs that have not finished; returns those it cancelled. */
  cancelJobs(filter: admin.BulkOptions): Promise<Job[]> {
    return this.#admin("cancelJobs", () => admin.cancelJobs(this.#sql, this.schema, filter));
  }

  /**
   * Makes a scheduled, retryable or finished job available now (with one more attempt if it
   * had none left). Returns it, or null if it is available or executing already.
   */
  retryJob(id: admin.JobId): Promise<Job | null> {
    return this.#admin("retryJob", () => admin.retryJob(this.#sql, this.schema, id));
  }

  /** Retries the matching scheduled, retryable and finished jobs; returns those it retried. */
  retryJobs(filter: admin.BulkOptions): Promise<Job[]> {
    return this.#admin("retryJobs", () => admin.retryJobs(this.#sql, this.schema, filter));
  }

  /** Deletes a job that is not executing; returns it as it was, or null if it is executing. */
  deleteJob(id: admin.JobId): Promise<Job | null> {
    return this.#admin("deleteJob", () => admin.deleteJob(this.#sql, this.schema, id));
  }

  /** Deletes the matching jobs that are not executing; returns them as they were. */
  deleteJobs(filter: admin.BulkOptions): Promise<Job[]> {
    return this.#admin("deleteJobs", () => admin.deleteJobs(this.#sql, this.schema, filter));
  }

  /**
   * Moves a job that has not started to a new time: `{ scheduledAt: date }` or
   * `{ scheduleIn: "10m" }`. Returns it, or null if it is executing or finished.
   */
  rescheduleJob(id: admin.JobId, to: admin.RescheduleTo): Promise<Job | null> {
    return this.#admin("rescheduleJob", () => admin.rescheduleJob(this.#sql, this.schema, id, to));
  }

  /**
   * Pauses a queue on every node, now and after restarts, or on one node with `{ node }`.
   * Running jobs finish; nothing new starts until `resumeQueue`.
   *
   * @example
   * ```ts
   * await queue.pauseQueue("mailers");
   * ```
   */
  pauseQueue(name: string, options: QueueControlOptions = {}): Promise<void> {
    return this.#admin("pauseQueue", () =>
      controlQueue(this.#controlContext, { action: "pause", queue: name, node: options.node }),
    );
  }

  /** Resumes a paused queue on every node, or on one node with `{ node }`. */
  resumeQueue(name: string, options: QueueControlOptions = {}): Promise<void> {
    return this.#admin("resumeQueue", () =>
      controlQueue(this.#controlContext, { action: "resume", queue: name, node: options.node }),
    );
  }

  /**
   * Sets how many jobs of a queue run at once on each node (every node, kept across restarts,
   * unless `{ node }` is given); `null` returns every node to its configured limit.
   */
  scaleQueue(name: string, limit: number | null, options: QueueControlOptions = {}): Promise<void> {
    return this.#admin("scaleQueue", () =>
      controlQueue(this.#controlContext, {
        action: "scale",
        queue: name,
        limit,
        node: options.node,
      }),
    );
  }

  /**
   * Sets a queue's flow limits (`globalLimit`, `rateLimit`, `partition`) on every node at once,
   * kept across restarts; `{}` removes them, `null` goes back to this node's configured ones.
   * Returns the limits now in force. See docs/flow-control.md.
   *
   * @example
   * ```ts
   * await queue.limitQueue("exports", { globalLimit: 3, partition: { limit: 1, by: { args: ["accountId"] } } });
   * ```
   */
  limitQueue(name: string, limits: FlowOptions | null): Promise<ParsedFlowOptions | null> {
    return this.#admin("limitQueue", () =>
      this.#settle().then(() => setQueueLimits(this.#flowContext, name, limits)),
    );
  }

  /**
   * The flow limits stored for a queue (null: none), periods in milliseconds.
   *
   * @example
   * ```ts
   * const limits = await queue.queueLimits("exports"); // { globalLimit: 3 } or null
   * ```
   */
  queueLimits(name: string): Promise<ParsedFlowOptions | null> {
    return this.#admin("queueLimits", () => readQueueLimits(this.#flowContext, name));
  }

  /**
   * This node's view of one of its queues (null if it does not run it): whether it is paused,
   * its limit, and the jobs it holds (running or waiting for a slot).
   */
  checkQueue(name: string): QueueCheck | null {
    return this.#runner?.check(name) ?? null;
  }

  /**
   * The per-minute history of finished jobs that the leader rolls up (`stats` option), from any
   * process: one row per bucket, queue, worker and outcome, oldest first. Minutes appear once
   * they are rolled up (within `stats.interval` plus `stats.lag` of their end).
   *
   * @example
   * ```ts
   * const rows = await queue.stats({ since: "24h", by: "hour", queue: "mailers" });
   * // [{ at, queue: "mailers", worker: "email.send", outcome: "completed", count: 1200, execP95Ms: 85, … }]
   * ```
   */
  stats(options: StatsOptions = {}): Promise<JobStats[]> {
    return this.#admin("stats", async () => {
      await this.#settle();
      return readStats(this.#sql, this.schema, options);
    });
  }

  /** The cleanup targets of this queue, built-in ones first (`docket cleanup --list`). */
  cleanupTargets(): CleanupTargetSummary[] {
    return this.#cleanup.list();
  }

  /**
   * Runs a cleanup target now, in this process rather than as a job, under the target's
   * lease (a row in `leaders`): while another run of it works anywhere, this one throws CleanupLockedError
   * (after waiting up to `wait`). No `start()` needed. Errors of the run come back in the result.
   *
   * @example
   * ```ts
   * const result = await queue.runCleanup("DeploymentLogRecord", { timeout: "10m" });
   * if (!result.success) logger.warn("cleanup failed", result);
   * ```
   */
  runCleanup(
    target: string | CleanupTarget,
    options: RunCleanupOptions = {},
  ): Promise<CleanupResult> {
    const name = typeof target === "string" ? target : target.name;
    const runtime = {
      sql: this.#sql,
      schema: this.schema,
      options: this.options,
      logger: this.#logger,
    };
    return this.#admin("runCleanup", () =>
      this.#settle().then(() => this.#cleanup.runNow(name, runtime, options)),
    );
  }

  /** For `docket/testing`; not part of the API. */
  [queueInternals](): QueueInternals {
    return { sql: this.#sql, workers: this.#workers, instrumentation: this.#instrumentation };
  }

  /** Before `start()` a control call changes the stored state only: no producer runs yet. */
  get #controlContext(): ControlContext {
    if (this.#runner) return this.#runner.controlContext;
    const { schema, node, queues } = this.options;
    return {
      sql: this.#sql,
      listener: this.#listener,
      schema,
      node,
      producers: new Map(),
      configured: queues,
    };
  }

  get #flowContext(): FlowContext {
    const { schema, queues } = this.options;
    return {
      sql: this.#sql,
      schema,
      producers: this.#runner?.producers ?? new Map(),
      configured: queues,
    };
  }

  /**
   * Runs an admin call: refused once `stop()` closed this queue's connections, and its
   * database errors explained (a pooler, a schema that is not migrated, a stop under way).
   */
  async #admin<T>(call: string, body: () => Promise<T>): Promise<T> {
    if (this.#state === "stopped" && this.#ownsSql) {
      throw new QueueStateError(
        `${call}() after stop(): this queue's connections are closed; make a new Queue`,
      );
    }
    try {
      return await body();
    } catch (error) {
      throw this.#explain(error, call);
    }
  }

  /** A database error as the user can act on it. */
  #explain(error: unknown, call: string): unknown {
    if (this.#stopping && errorCode(error) === "CONNECTION_ENDED") {
      return new QueueStateError(`${call}() during stop(): this queue's connections are closed`, {
        cause: error,
      });
    }
    return explainUndefinedTable(explainPoolerError(error), this.schema);
  }

  /** See {@link settleArrayTypes}: after the first query, reconnects skip a risky type fetch. */
  async #settle(): Promise<void> {
    if (this.#ownsSql) await settleArrayTypes(this.#sql);
  }

  /** Emits an event; a `queue:error` whose cause is a pooler says which option to set. */
  readonly #emitExplained = ((event: keyof QueueEvents, ...args: unknown[]) => {
    if (event !== "queue:error") return this.#emitAny(event, args[0]);
    const [payload] = args as QueueEvents["queue:error"];
    return this.#emitAny(event, { ...payload, error: explainPoolerError(payload.error) });
  }) as ProducerEmit;

  /**
   * Emits an event and mirrors it on its diagnostics channel. Every event has one payload; job
   * events pass here on the hot path, so the channel costs a field read when nothing subscribes.
   */
  readonly #emitAny = (event: string, payload: unknown): boolean => {
    if (channelHasSubscribers(event)) publishToChannel(event, this, payload);
    return this.emit(event as "queue:error", payload as QueueEvents["queue:error"][0]);
  };

  /** Whether an event has a listener or a diagnostics channel subscriber (payloads cost). */
  readonly #listens = (event: keyof QueueEvents): boolean =>
    this.listenerCount(event) > 0 || channelHasSubscribers(event);

  #reportError(cause: unknown, source: string): void {
    const error = explainPoolerError(cause);
    this.#logger.error(`docket ${source} error`, { error });
    this.emit("queue:error", { error, source });
  }
}

type ProducerEmit = ConstructorParameters<typeof Producer>[0]["emit"];
