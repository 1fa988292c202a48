import type { Job } from "./types.js";

/**
 * Error classes of docket. Each has a stable `code` that callers can branch on, and keeps the
 * underlying error as `cause`.
 *
 * @example
 * ```ts
 * try { new Queue({ connection: url, queues: { default: -1 } }) }
 * catch (e) { if (e instanceof ConfigError) logger.error(e.path, e.message) }
 * ```
 */
export class DocketError extends Error {
  /** A stable, machine-readable identifier of the kind of error. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad options: an unknown key, a wrong type, a bad cron expression or an unknown worker. */
export class ConfigError extends DocketError {
  /** The path of the offending option, such as `pruner.maxAge`, when one is known. */
  readonly path: string | undefined;

  constructor(message: string, options?: { path?: string; cause?: unknown }) {
    super("CONFIG_INVALID", message, options);
    this.path = options?.path;
  }
}

/** Job arguments that fail the worker's schema, cannot be stored as JSON, or are too large. */
export class ArgsError extends DocketError {
  /** The worker the arguments were meant for. */
  readonly worker: string;

  constructor(worker: string, message: string, options?: { cause?: unknown }) {
    super("ARGS_INVALID", message, options);
    this.worker = worker;
  }
}

/** Bad options for one insert (priority out of range, a date that is not a date…). */
export class InsertError extends DocketError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INSERT_INVALID", message, options);
  }
}

/** A migration could not be applied or reverted. */
export class MigrationError extends DocketError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MIGRATION_FAILED", message, options);
  }
}

/**
 * docket's tables are missing or older than this version of docket: the schema was never
 * migrated, or a newer docket added migrations that were not applied. Run `docket migrate` (or
 * `queue.migrate()`) as a role that owns the schema.
 *
 * @example
 * ```ts
 * await queue.start().catch(async (e) => {
 *   if (!(e instanceof NotMigratedError)) throw e; // its message says: run `docket migrate`
 *   await queue.migrate();
 *   await queue.start();
 * });
 * ```
 */
export class NotMigratedError extends DocketError {
  /** The schema docket looked in. */
  readonly schema: string;

  constructor(schema: string, detail: string, options?: { cause?: unknown }) {
    super(
      "NOT_MIGRATED",
      `docket's tables in schema "${schema}" ${detail}; run \`docket migrate\` (or queue.migrate()) first`,
      options,
    );
    this.schema = schema;
  }
}

/**
 * A statement failed because a table or type of docket does not exist (SQLSTATE 42P01/42704):
 * the schema was not migrated. Returns the {@link NotMigratedError} that says so, or `error`.
 */
export function explainUndefinedTable(error: unknown, schema: string): unknown {
  const code = errorCode(error);
  if (code !== "42P01" && code !== "42704" && code !== "3F000") return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new NotMigratedError(schema, `are missing (${detail})`, { cause: error });
}

/** An admin call named a job that does not exist. */
export class JobNotFoundError extends DocketError {
  readonly jobId: string;

  constructor(jobId: string) {
    super("JOB_NOT_FOUND", `job ${jobId} does not exist`);
    this.jobId = jobId;
  }
}

/**
 * The reason a running job's signal aborts when the job is cancelled (`queue.cancelJob`), on
 * whichever node runs it.
 */
export class JobCancelledError extends DocketError {
  readonly jobId: string;

  constructor(jobId: string) {
    super("JOB_CANCELLED", `job ${jobId} was cancelled`);
    this.jobId = jobId;
  }
}

/** `waitForJob`: the job was discarded (out of attempts, or refused); its last error is here. */
export class JobDiscardedError extends DocketError {
  readonly jobId: string;
  /** The job as it finished, errors included. */
  readonly job: Job;

  constructor(job: Job) {
    const last = job.errors[job.errors.length - 1];
    super("JOB_DISCARDED", `job ${job.id} was discarded${last ? `: ${last.error}` : ""}`);
    this.jobId = job.id;
    this.job = job;
  }
}

/** `waitForJob`: the job did not finish within the timeout (it goes on; only the wait ended). */
export class WaitTimeoutError extends DocketError {
  readonly jobId: string;

  constructor(jobId: string, timeoutMs: number) {
    super("WAIT_TIMEOUT", `job ${jobId} did not finish within ${timeoutMs}ms`);
    this.jobId = jobId;
  }
}

/** A job's `perform` ran past its worker's timeout. */
export class JobTimeoutError extends DocketError {
  constructor(worker: string, timeoutMs: number) {
    super("JOB_TIMEOUT", `job of worker "${worker}" timed out after ${timeoutMs}ms`);
  }
}

/** Another run of the cleanup target holds its lease (another process, or the schedule). */
export class CleanupLockedError extends DocketError {
  /** The target's name. */
  readonly target: string;

  constructor(target: string) {
    super(
      "CLEANUP_LOCKED",
      `cleanup target ${target} is already running elsewhere (its lease is held)`,
    );
    this.target = target;
  }
}

/** A cleanup target was named that the queue does not know. */
export class CleanupTargetNotFoundError extends DocketError {
  /** The name asked for. */
  readonly target: string;

  constructor(target: string, known: readonly string[]) {
    super(
      "CLEANUP_TARGET_NOT_FOUND",
      `no cleanup target named ${target}; known targets: ${known.join(", ") || "none"}`,
    );
    this.target = target;
  }
}

/** The queue was used in a way its state does not allow (insert after stop, start twice…). */
export class QueueStateError extends DocketError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("QUEUE_STATE", message, options);
  }
}

/**
 * The database did not answer a statement in time: the connection went silent (a network cut,
 * a host that vanished, an answer a driver lost) rather than failing. Reported as a
 * `queue:error`; the statement may still complete once the network comes back. The producer's
 * claims, the acker's batches and the heartbeat wait at most `heartbeat.timeout` for an answer.
 */
export class DatabaseTimeoutError extends DocketError {
  /** How long docket waited, in milliseconds. */
  readonly waitedMs: number;

  constructor(message: string, waitedMs: number) {
    super("DATABASE_TIMEOUT", message);
    this.waitedMs = waitedMs;
  }
}

/**
 * The connection goes through a pooler that breaks something docket relies on: prepared
 * statements (SQLSTATE 26000 behind PgBouncer in transaction mode) or LISTEN. The message names
 * the option to set (see docs/poolers.md).
 *
 * @example
 * ```ts
 * queue.on("queue:error", ({ error }) => {
 *   if (error instanceof PoolerError) log.error(error.message); // "… set connection: { url, prepare: false } …"
 * });
 * ```
 */
export class PoolerError extends DocketError {
  /** The option that fixes it: `connection.prepare` or `listen`. */
  readonly option: "connection.prepare" | "listen";

  constructor(
    option: "connection.prepare" | "listen",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(option === "listen" ? "POOLER_LISTEN" : "POOLER_PREPARED_STATEMENTS", message, options);
    this.option = option;
  }
}

/**
 * A statement failed because its prepared statement is missing (SQLSTATE 26000): the pool goes
 * through a pooler that hands each transaction another server connection. Returns the
 * {@link PoolerError} that says so, or `error` as it was.
 *
 * @example
 * ```ts
 * await insertJobsOf(context, worker, args, options).catch((e) => { throw explainPoolerError(e); });
 * ```
 */
export function explainPoolerError(error: unknown): unknown {
  if (errorCode(error) !== "26000") return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new PoolerError(
    "connection.prepare",
    `${detail} (SQLSTATE 26000): the connection goes through a pooler in transaction mode ` +
      "(PgBouncer before 1.21, RDS Proxy, Supabase's pooler on port 6543); set " +
      "connection: { url, prepare: false } (see docs/poolers.md)",
    { cause: error },
  );
}

const retryableSqlStates = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  // read_only_sql_transaction: a connection that landed on a standby during a failover (postgres.js's
  // target_session_attrs=read-write does not tell a hot standby from a primary); once the standby
  // is promoted the same connection can write.
  "25006",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  // docket's own: a statement went unanswered past its deadline (see DatabaseTimeoutError)
  "DATABASE_TIMEOUT",
]);

/** The code of a database or driver error (`40P01`, `ECONNRESET`…), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Tells whether a database error is worth retrying: deadlocks, serialization failures, a server
 * shutting down and lost connections are; constraint violations and syntax errors are not.
 */
export function isRetryableDatabaseError(error: unknown): boolean {
  const code = errorCode(error);
  if (code === undefined) return false;
  return retryableSqlStates.has(code) || code.startsWith("08") || connectionErrorCodes.has(code);
}

/** Whether a database error is a lock wait that ran past `lock_timeout` (SQLSTATE 55P03). */
export function isLockTimeout(error: unknown): boolean {
  return errorCode(error) === "55P03";
}

/**
 * `progress()` in `perform` was given a value docket does not store: a number outside 0–100, a
 * value JSON cannot hold, text PostgreSQL cannot store, or more than 4 KiB of JSON. Thrown into
 * `perform` at the call, so a mistake shows where it was made.
 */
export class ProgressError extends DocketError {
  constructor(message: string) {
    super("PROGRESS_INVALID", message);
  }
}
