import { EventEmitter } from "node:events";
import postgres, { type Sql } from "postgres";
import { Acker } from "./acker.js";
import { type Duration, parseDuration } from "./duration.js";
import { ConfigError, InsertError, QueueStateError } from "./errors.js";
import type { QueueEvents } from "./events.js";
import { buildInsertRow, type InsertOptions, parseInsertOptions } from "./insert.js";
import { toJob } from "./job-row.js";
import { type Logger, silentLogger } from "./logger.js";
import { type MigrationStatus, Migrator } from "./migrator.js";
import { type ParsedQueueOptions, parseQueueOptions, type QueueOptions } from "./options.js";
import { Producer } from "./producer.js";
import { run } from "./sql/executor.js";
import { insertChannel, insertJobs, selectJob } from "./sql/jobs.js";
import { Stager } from "./stager.js";
import type { Job } from "./types.js";
import type { AnyWorker, Worker } from "./worker.js";

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
  #stageTimer: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(options: QueueOptions) {
    super();
    this.options = parseQueueOptions(options);
    this.#logger = this.options.logger ?? silentLogger;
    for (const worker of this.options.workers) {
      if (this.#workers.has(worker.name)) {
        throw new ConfigError(`workers: two workers are named "${worker.name}"`, {
          path: "workers",
        });
      }
      this.#workers.set(worker.name, worker);
    }
    const { connection } = this.options;
    this.#ownsSql = typeof connection === "string";
    this.#sql =
      typeof connection === "string"
        ? postgres(connection, {
            max: this.options.poolSize,
            onnotice: () => {},
            connection: { application_name: "docket" },
          })
        : connection;
  }

  /** This node's name, stored in `attempted_by` on the jobs it runs. */
  get node(): string {
    return this.options.node;
  }

  /** The schema holding docket's tables. */
  get schema(): string {
    return this.options.schema;
  }

  /** Applies pending migrations. Safe to call from many processes at once. */
  async migrate(): Promise<MigrationStatus[]> {
    return new Migrator(this.#sql, this.schema).up();
  }

  /** Starts fetching and running the jobs of this node's queues. */
  async start(): Promise<void> {
    if (this.#state !== "idle")
      throw new QueueStateError(`start() called on a queue that is ${this.#state}`);
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
          workers: this.#workers,
          acker: this.#acker,
          emit,
        }),
      );
    }
    if (this.#producers.size > 0) {
      const listener = await this.#sql.listen(
        insertChannel(schema),
        (queue) => this.#producers.get(queue)?.wake(),
        () => {
          for (const producer of this.#producers.values()) producer.wake();
        },
      );
      this.#unlisten = listener.unlisten;
    }
    for (const producer of this.#producers.values()) producer.start();
    this.#startStager();
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
    if (this.#stageTimer) clearTimeout(this.#stageTimer);
    await this.#unlisten?.().catch((error: unknown) => this.#reportError(error, "listener"));
    await Promise.all([...this.#producers.values()].map((p) => p.stop(graceMs)));
    await this.#acker?.flush();
    if (this.#ownsSql) await this.#sql.end({ timeout: 5 });
    this.#state = "stopped";
    this.#logger.info("docket stopped", { node: this.node });
  }

  /**
   * Inserts one job. Args are checked against the worker's schema first; with `tx` the job is
   * part of that transaction and exists only if it commits.
   */
  async insert<Args>(
    worker: Worker<Args> | string,
    args: Args,
    options?: InsertOptions,
  ): Promise<Job<Args>> {
    const [job] = await this.insertMany(worker, [args], options);
    return job as Job<Args>;
  }

  /** Inserts many jobs of one worker in one statement per few thousand jobs, all or none. */
  async insertMany<Args>(
    worker: Worker<Args> | string,
    argsList: readonly Args[],
    options?: InsertOptions,
  ): Promise<Job<Args>[]> {
    if (this.#state === "stopped" && this.#ownsSql)
      throw new QueueStateError("insert after stop()");
    if (!Array.isArray(argsList)) throw new InsertError("insertMany: args must be an array");
    const parsed = parseInsertOptions(options);
    const definition = this.#resolveWorker(worker);
    const rows = argsList.map((args) =>
      buildInsertRow(definition, args, parsed, this.options.maxArgsBytes),
    );
    if (rows.length === 0) return [];
    const schema = this.schema;
    if (parsed.tx || rows.length <= insertChunk) {
      const result = await run(parsed.tx ?? this.#sql, insertJobs(schema, rows));
      return result.map(toJob) as Job<Args>[];
    }
    return (await this.#sql.begin(async (tx) => {
      const jobs: Job[] = [];
      for (let i = 0; i < rows.length; i += insertChunk) {
        const result = await run(tx, insertJobs(schema, rows.slice(i, i + insertChunk)));
        jobs.push(...result.map(toJob));
      }
      return jobs;
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

  #resolveWorker(worker: AnyWorker | string): AnyWorker | { name: string } {
    if (typeof worker === "string") return this.#workers.get(worker) ?? { name: worker };
    if (typeof worker !== "object" || worker === null || typeof worker.name !== "string") {
      throw new InsertError(
        "insert: the first argument must be a worker made by defineWorker() or a worker name",
      );
    }
    return worker as AnyWorker;
  }

  #startStager(): void {
    if (this.#producers.size === 0) return;
    const stager = new Stager(this.#sql, this.schema);
    const tick = async () => {
      try {
        await stager.runOnce();
      } catch (error) {
        this.#reportError(error, "stager");
      }
      if (this.#state === "started" || this.#state === "starting") {
        this.#stageTimer = setTimeout(tick, this.options.stageInterval);
      }
    };
    this.#stageTimer = setTimeout(tick, 0);
  }

  #reportError(error: unknown, source: string): void {
    this.#logger.error(`docket ${source} error`, { error });
    this.emit("queue:error", { error, source });
  }
}

type ProducerEmit = ConstructorParameters<typeof Producer>[0]["emit"];
