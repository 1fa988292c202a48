import { EventEmitter } from "node:events";
import type { Sql } from "postgres";
import { Acker } from "./acker.js";
import * as admin from "./admin.js";
import {
  CleanupRegistry,
  type CleanupTargetSummary,
  type RunCleanupOptions,
} from "./cleanup-registry.js";
import type { CleanupResult } from "./cleanup-run.js";
import { type CleanupTarget, isCleanupTarget } from "./cleanup-target.js";
import { loadConfig } from "./config/load-config.js";
import { createPool, settleArrayTypes } from "./connection.js";
import {
  type ControlContext,
  ControlListener,
  controlQueue,
  type QueueCheck,
  type QueueControlOptions,
} from "./control.js";
import { Cron } from "./cron.js";
import { resolveCronEntries } from "./cron-options.js";
import { type Duration, parseDuration } from "./duration.js";
import { ConfigError, InsertError, QueueStateError } from "./errors.js";
import type { QueueEvents } from "./events.js";
import { buildInsertRow, type InsertOptions, parseInsertOptions } from "./insert.js";
import { type QueueInternals, queueInternals } from "./internals.js";
import { toJob } from "./job-row.js";
import { listenerCheckMs, listenReliably } from "./listener.js";
import { type Logger, silentLogger } from "./logger.js";
import { Maintenance } from "./maintenance.js";
import { type MigrationStatus, Migrator } from "./migrator.js";
import { type ParsedQueueOptions, parseQueueOptions, type QueueOptions } from "./options.js";
import type { Plugin } from "./plugin.js";
import { Producer } from "./producer.js";
import { run } from "./sql/executor.js";
import { insertChannel, insertJobs, type JobRow, selectJob } from "./sql/jobs.js";
import { performInline } from "./testing/perform-job.js";
import type { Job } from "./types.js";
import { resolveUnique } from "./unique.js";
import { insertUnique } from "./unique-insert.js";
import { type AnyWorker, nameSchema, type Worker } from "./worker.js";

const insertChunk = 5_000;

/** Options of {@link Queue.stop}. */
export interface StopOptions {
  /** How long running jobs may take to finish before their signals abort. Default 15s. */
  grace?: Duration;
}

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
export class Queue extends EventEmitter<QueueEvents> {
  readonly options: Readonly<ParsedQueueOptions>;
  readonly #sql: Sql;
  readonly #ownsSql: boolean;
  readonly #workers = new Map<string, AnyWorker>();
  readonly #producers = new Map<string, Producer>();
  readonly #logger: Logger;
  #acker: Acker | undefined;
  #state: "idle" | "starting" | "started" | "stopping" | "stopped" = "idle";
  #stopping: Promise<void> | undefined;
  readonly #maintenance: Maintenance;
  readonly #cleanup: CleanupRegistry;
  #unlisten: (() => Promise<void>) | undefined;
  #control: ControlListener | undefined;

  constructor(options: QueueOptions) {
    super();
    const parsed = parseQueueOptions(options);
    this.#cleanup = new CleanupRegistry(parsed.cleanup);
    // A node that runs queues also runs those of its scheduled cleanup targets.
    this.options = this.#cleanup.withScheduledQueues(parsed);
    this.#logger = this.options.logger ?? silentLogger;
    for (const worker of this.options.workers) {
      if (this.#workers.has(worker.name)) {
        throw new ConfigError(`workers: two workers are named "${worker.name}"`, {
          path: "workers",
        });
      }
      this.#workers.set(worker.name, worker);
    }
    const runtime = { sql: () => this.#sql, options: this.options, logger: this.#logger };
    for (const worker of this.#cleanup.workers(runtime)) {
      if (this.#workers.has(worker.name)) {
        throw new ConfigError(
          `workers: "${worker.name}" is the name of a cleanup target's worker`,
          {
            path: "workers",
          },
        );
      }
      this.#workers.set(worker.name, worker);
    }
    const cronEntries = resolveCronEntries(
      this.options.cron,
      this.#workers,
      this.#cleanup.cronEntries(),
      this.options.maxArgsBytes,
    );
    const cron = new Cron(cronEntries, (worker, args, insertOptions) =>
      this.insert(worker, args, insertOptions),
    );
    const { connection } = this.options;
    this.#ownsSql = typeof connection === "string";
    this.#sql =
      typeof connection === "string" ? createPool(connection, this.options.poolSize) : connection;
    this.#maintenance = new Maintenance({
      executor: this.#sql,
      options: this.options,
      pruner: options.pruner,
      lifeline: options.lifeline,
      builtIns: [cron],
      logger: this.#logger,
      queues: () =>
        [...this.#producers.values()].map((p) => ({ queue: p.queue, concurrency: p.limit })),
      emit: this.emit.bind(this) as ProducerEmit,
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

  /** This node's plugins: the built-in pruner and lifeline (unless turned off), then `plugins`. */
  get plugins(): readonly Plugin[] {
    return this.#maintenance.plugins;
  }

  /** Applies pending migrations. Safe to call from many processes at once. */
  async migrate(): Promise<MigrationStatus[]> {
    await this.#settle();
    return new Migrator(this.#sql, this.schema).up();
  }

  /** Starts fetching and running the jobs of this node's queues. */
  async start(): Promise<void> {
    if (this.#state !== "idle")
      throw new QueueStateError(`start() called on a queue that is ${this.#state}`);
    if (this.options.testing !== "disabled") {
      // Testing modes run nothing: jobs ran at insert (inline) or wait for drainQueue (manual).
      this.#state = "started";
      return;
    }
    await this.#settle();
    // Cleanup targets' tables and columns, before anything runs.
    await this.#cleanup.check(this.#sql);
    this.#state = "starting";
    const { schema, node } = this.options;
    const emit = this.emit.bind(this) as ProducerEmit;
    this.#acker = new Acker({
      executor: this.#sql,
      schema,
      node,
      intervalMs: this.options.ackInterval,
      batchSize: this.options.ackBatchSize,
      onError: (error) => this.#reportError(error, "acker"),
    });
    for (const [name, queueOptions] of Object.entries(this.options.queues)) {
      this.#producers.set(
        name,
        new Producer({
          executor: this.#sql,
          schema,
          node,
          queue: name,
          limit: queueOptions.limit,
          prefetch: queueOptions.prefetch,
          paused: queueOptions.paused,
          pollIntervalMs: queueOptions.pollInterval ?? this.options.pollInterval,
          // A claim older than a heartbeat timeout that the node does not hold is lost.
          reclaimAfterMs: this.options.heartbeat.timeout,
          reclaimIntervalMs: this.options.heartbeat.interval,
          workers: this.#workers,
          acker: this.#acker,
          emit,
        }),
      );
    }
    if (this.#producers.size > 0) {
      const listener = await listenReliably(
        this.#sql,
        insertChannel(schema),
        (queue) => this.#producers.get(queue)?.wake(),
        {
          checkIntervalMs: Math.min(listenerCheckMs, Math.max(1000, this.options.pollInterval)),
          // Inserts notified while the subscription was down were missed: fetch now.
          onListen: () => {
            for (const producer of this.#producers.values()) producer.wake();
          },
          onError: (error) => this.#reportError(error, "listener"),
        },
      );
      this.#unlisten = listener.unlisten;
    }
    // Heartbeat rows first: the lifeline rescues jobs whose producer has no row.
    await this.#maintenance.start();
    if (this.#producers.size > 0) {
      // Paused and scaled queues (queues table, control channel) before the first fetch.
      this.#control = new ControlListener(this.#controlContext, (e) =>
        this.#reportError(e, "control"),
      );
      await this.#control.start();
    }
    for (const producer of this.#producers.values()) producer.start();
    this.#state = "started";
    this.#logger.info("docket started", { node, queues: [...this.#producers.keys()] });
  }

  /**
   * Stops the node: no more fetching, running jobs get `grace` to finish, then their signals
   * abort and unfinished jobs go back to `available` without using up an attempt. Resolves
   * once nothing of this node is left executing. Calling it again returns the same promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    const graceMs =
      options.grace === undefined ? this.options.shutdownGrace : parseDuration(options.grace);
    if (graceMs === undefined) {
      return Promise.reject(
        new ConfigError(`stop: grace ${JSON.stringify(options.grace)} is not a duration`, {
          path: "grace",
        }),
      );
    }
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#state = "stopping";
    const resigned = this.#maintenance.resign(); // leadership is given up at once
    await this.#unlisten?.().catch((error: unknown) => this.#reportError(error, "listener"));
    await this.#control?.stop().catch((error: unknown) => this.#reportError(error, "control"));
    await Promise.all([...this.#producers.values()].map((p) => p.stop(graceMs)));
    await this.#acker?.flush();
    await resigned;
    await this.#maintenance.stopHeartbeat();
    if (this.#ownsSql) await this.#sql.end({ timeout: 5 });
    this.#state = "stopped";
    this.#logger.info("docket stopped", { node: this.node });
  }

  /**
   * Inserts one job. Args are checked against the worker's schema first; with `tx` the job is
   * part of that transaction and exists only if it commits.
   */
  async insert<Args>(
    worker: Worker<Args> | CleanupTarget | string,
    args: Args,
    options?: InsertOptions,
  ): Promise<Job<Args>> {
    const [job] = await this.insertMany(worker, [args], options);
    return job as Job<Args>;
  }

  /** Inserts many jobs of one worker in one statement per few thousand jobs, all or none. */
  async insertMany<Args>(
    worker: Worker<Args> | CleanupTarget | string,
    argsList: readonly Args[],
    options?: InsertOptions,
  ): Promise<Job<Args>[]> {
    if (this.#state === "stopped" && this.#ownsSql)
      throw new QueueStateError("insert after stop()");
    if (!Array.isArray(argsList)) throw new InsertError("insertMany: args must be an array");
    if (this.options.testing !== "inline") await this.#settle(); // inline never connects
    const parsed = parseInsertOptions(options);
    const definition = this.#resolveWorker(worker);
    const rows = argsList.map((args) =>
      buildInsertRow(definition, args, parsed, this.options.maxArgsBytes),
    );
    if (rows.length === 0) return [];
    if (this.options.testing === "inline") {
      return (await performInline(
        "perform" in definition ? definition : undefined,
        rows,
      )) as Job<Args>[];
    }
    const unique = resolveUnique(
      "unique" in definition ? definition.unique : undefined,
      parsed.unique,
    );
    if (unique) {
      const target = { tx: parsed.tx, pool: this.#sql, schema: this.schema, chunk: insertChunk };
      return (await insertUnique(target, rows, unique)) as Job<Args>[];
    }
    const schema = this.schema;
    if (parsed.tx || rows.length <= insertChunk) {
      const result = await run(parsed.tx ?? this.#sql, insertJobs(schema, rows));
      return result.map(toJob) as Job<Args>[];
    }
    return (await this.#sql.begin(async (tx) => {
      // Sent at once: postgres.js pipelines them on the transaction's connection, so the server
      // inserts a chunk while the client reads the jobs of the one before (see bench/).
      const chunks: Promise<JobRow[]>[] = [];
      for (let i = 0; i < rows.length; i += insertChunk) {
        chunks.push(run(tx, insertJobs(schema, rows.slice(i, i + insertChunk))));
      }
      return (await Promise.all(chunks)).flatMap((result) => result.map(toJob));
    })) as Job<Args>[];
  }

  /** One job by id, or null. */
  async getJob(id: string | number | bigint): Promise<Job | null> {
    const text = String(id);
    if (!/^\d{1,19}$/.test(text))
      throw new InsertError(`getJob: ${JSON.stringify(text)} is not a job id`);
    const [row] = await run(this.#sql, selectJob(this.schema, text));
    return row ? toJob(row) : null;
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
    return admin.listJobs(this.#sql, this.schema, options);
  }

  /**
   * Cancels a job that has not finished; if it is executing, its signal aborts on whichever
   * node runs it. Returns the cancelled job, or null if it had finished already; throws
   * `JobNotFoundError` for a missing job.
   */
  cancelJob(id: admin.JobId): Promise<Job | null> {
    return admin.cancelJob(this.#sql, this.schema, id);
  }

  /** Cancels the matching jobs that have not finished; returns those it cancelled. */
  cancelJobs(filter: admin.BulkOptions): Promise<Job[]> {
    return admin.cancelJobs(this.#sql, this.schema, filter);
  }

  /**
   * Makes a scheduled, retryable or finished job available now (with one more attempt if it
   * had none left). Returns it, or null if it is available or executing already.
   */
  retryJob(id: admin.JobId): Promise<Job | null> {
    return admin.retryJob(this.#sql, this.schema, id);
  }

  /** Retries the matching scheduled, retryable and finished jobs; returns those it retried. */
  retryJobs(filter: admin.BulkOptions): Promise<Job[]> {
    return admin.retryJobs(this.#sql, this.schema, filter);
  }

  /** Deletes a job that is not executing; returns it as it was, or null if it is executing. */
  deleteJob(id: admin.JobId): Promise<Job | null> {
    return admin.deleteJob(this.#sql, this.schema, id);
  }

  /** Deletes the matching jobs that are not executing; returns them as they were. */
  deleteJobs(filter: admin.BulkOptions): Promise<Job[]> {
    return admin.deleteJobs(this.#sql, this.schema, filter);
  }

  /**
   * Moves a job that has not started to a new time: `{ scheduledAt: date }` or
   * `{ scheduleIn: "10m" }`. Returns it, or null if it is executing or finished.
   */
  rescheduleJob(id: admin.JobId, to: admin.RescheduleTo): Promise<Job | null> {
    return admin.rescheduleJob(this.#sql, this.schema, id, to);
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
    return controlQueue(this.#controlContext, { action: "pause", queue: name, node: options.node });
  }

  /** Resumes a paused queue on every node, or on one node with `{ node }`. */
  resumeQueue(name: string, options: QueueControlOptions = {}): Promise<void> {
    return controlQueue(this.#controlContext, {
      action: "resume",
      queue: name,
      node: options.node,
    });
  }

  /**
   * Sets how many jobs of a queue run at once on each node (every node, kept across restarts,
   * unless `{ node }` is given); `null` returns every node to its configured limit.
   */
  scaleQueue(name: string, limit: number | null, options: QueueControlOptions = {}): Promise<void> {
    return controlQueue(this.#controlContext, {
      action: "scale",
      queue: name,
      limit,
      node: options.node,
    });
  }

  /**
   * This node's view of one of its queues (null if it does not run it): whether it is paused,
   * its limit, and the jobs it holds (running or waiting for a slot).
   */
  checkQueue(name: string): QueueCheck | null {
    const producer = this.#producers.get(name);
    if (!producer) return null;
    return {
      queue: name,
      paused: producer.paused,
      limit: producer.limit,
      running: producer.claimed,
    };
  }

  /** The cleanup targets of this queue, built-in ones first (`docket cleanup --list`). */
  cleanupTargets(): CleanupTargetSummary[] {
    return this.#cleanup.list();
  }

  /**
   * Runs a cleanup target now, in this process rather than as a job, under the target's
   * advisory lock: while another run of it works anywhere, this one throws CleanupLockedError
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
    return this.#settle().then(() => this.#cleanup.runNow(name, runtime, options));
  }

  /** For `docket/testing`; not part of the API. */
  [queueInternals](): QueueInternals {
    return { sql: this.#sql, workers: this.#workers };
  }

  get #controlContext(): ControlContext {
    const { schema, node, queues } = this.options;
    return { sql: this.#sql, schema, node, producers: this.#producers, configured: queues };
  }

  #resolveWorker(worker: AnyWorker | CleanupTarget | string): AnyWorker | { name: string } {
    if (isCleanupTarget(worker)) {
      return this.#workers.get(worker.worker) ?? { name: worker.worker, queue: worker.queue };
    }
    if (typeof worker === "string") {
      const known = this.#workers.get(worker);
      if (known) return known;
      const name = nameSchema.safeParse(worker);
      if (!name.success) {
        throw new InsertError(
          `insert: worker name ${JSON.stringify(worker)} ${name.error.issues[0]?.message}`,
        );
      }
      return { name: worker };
    }
    if (typeof worker !== "object" || worker === null || typeof worker.name !== "string") {
      throw new InsertError(
        "insert: the first argument must be a worker made by defineWorker() or a worker name",
      );
    }
    return worker as AnyWorker;
  }

  /** See {@link settleArrayTypes}: after the first query, reconnects skip a risky type fetch. */
  async #settle(): Promise<void> {
    if (this.#ownsSql) await settleArrayTypes(this.#sql);
  }

  #reportError(error: unknown, source: string): void {
    this.#logger.error(`docket ${source} error`, { error });
    this.emit("queue:error", { error, source });
  }
}

type ProducerEmit = ConstructorParameters<typeof Producer>[0]["emit"];
