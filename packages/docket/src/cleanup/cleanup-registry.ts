import type { Sql } from "postgres";
import { z } from "zod";
import { screamingSnake } from "../config/env.js";
import type { ParsedCronEntry } from "../cron/cron-options.js";
import { CleanupLockedError, CleanupTargetNotFoundError, ConfigError } from "../errors.js";
import type { Logger } from "../logger.js";
import { type ParsedQueueOptions, queueOptionsSchema } from "../queue-options.js";
import type { JsonValue } from "../types.js";
import { type Duration, durationMs, parseDuration } from "../validation/duration.js";
import { closest, zodToConfigError } from "../validation/zod-errors.js";
import { type AnyWorker, cancel, defineWorker } from "../workers/define-worker.js";
import { builtInTargets } from "./builtin-targets.js";
import { resolveTargetTable } from "./cleanup-catalog.js";
import type { ParsedCleanupSettings } from "./cleanup-options.js";
import { type CleanupResult, type CleanupRunOptions, runCleanup } from "./cleanup-run.js";
import type { CleanupTarget } from "./define-target.js";

/** One line of `docket cleanup --list`. */
export interface CleanupTargetSummary {
  name: string;
  description: string;
  /** The worker running it: `cleanup:<name>`. */
  worker: string;
  queue: string;
  /** The cron expression it runs on, if scheduled. */
  schedule: string | null;
  timezone: string;
  /** Milliseconds, if it has a timeout. */
  timeoutMs: number | null;
  table: string | null;
  builtIn: boolean;
}

/** The args of a target's job: both optional overrides of the target's settings. */
const cleanupArgsSchema = z
  .object({
    timeout: z
      .union([z.number(), z.string()])
      .refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 30 or "10m"')
      .optional(),
    batchSize: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();

/** Options of `queue.runCleanup()`. */
export interface RunCleanupOptions {
  /** Overrides the target's timeout: the run stops between batches after this long. */
  timeout?: Duration;
  /** Overrides the target's batch size. */
  batchSize?: number;
  /** How long to wait while another run of the target holds its lock. Default 0: fail at once. */
  wait?: Duration;
  /** Stops the run between batches when it aborts (SIGTERM, say). */
  signal?: AbortSignal;
}

/** The schema of {@link RunCleanupOptions}: durations come out in milliseconds. */
const runCleanupOptionsSchema = z
  .object({
    timeout: durationMs().optional(),
    batchSize: z.number().int().min(1).max(1_000_000).optional(),
    wait: durationMs().optional(),
    signal: z
      .custom<AbortSignal>(
        (v) =>
          typeof v === "object" &&
          v !== null &&
          typeof (v as AbortSignal).aborted === "boolean" &&
          typeof (v as AbortSignal).addEventListener === "function",
        "must be an AbortSignal",
      )
      .optional(),
  })
  .strict();

/** What the targets' workers need of their queue, read when a job runs. */
export interface CleanupRuntime {
  sql: () => Sql;
  options: Readonly<ParsedQueueOptions>;
  logger: Logger;
}

const builtInNames = new Set(builtInTargets().map((t) => t.name));

/**
 * The cleanup targets of one queue: the built-in ones and the application's (a target of the
 * same name replaces a built-in one), each with its settings applied. It makes their workers
 * and cron entries, checks their tables, and runs them on demand.
 */
export class CleanupRegistry {
  readonly #targets = new Map<string, CleanupTarget>();

  /** @throws ConfigError for settings that name no target. */
  constructor(cleanup: Readonly<Record<string, ParsedCleanupSettings>>) {
    const given = Object.values(cleanup).flatMap((s) => (s.target ? [s.target] : []));
    for (const target of [...builtInTargets(), ...given]) this.#targets.set(target.name, target);
    const byScreaming = new Map(
      [...this.#targets.keys()].map((name) => [screamingSnake(name), name]),
    );
    for (const [key, settings] of Object.entries(cleanup)) {
      // CLEANUP_OIDC_STATE_CRON reaches us as OidcState when nothing told the loader the spelling.
      const name = this.#targets.has(key) ? key : byScreaming.get(screamingSnake(key));
      if (name === undefined) {
        const hint = closest(key, [...this.#targets.keys()]);
        throw new ConfigError(
          `cleanup.${key}: no cleanup target named ${key}${hint ? ` (did you mean ${hint}?)` : ""}; define it with defineCleanupTarget and pass it in cleanup`,
          { path: `cleanup.${key}` },
        );
      }
      this.#targets.set(name, applySettings(this.#targets.get(name) as CleanupTarget, settings));
    }
  }

  /** Every target, built-in ones first. */
  get targets(): CleanupTarget[] {
    return [...this.#targets.values()];
  }

  /** The target named `name` (exact, or the same in SCREAMING_SNAKE_CASE). */
  get(name: string): CleanupTarget | undefined {
    const exact = this.#targets.get(name);
    if (exact) return exact;
    const screaming = screamingSnake(name);
    return this.targets.find((t) => screamingSnake(t.name) === screaming);
  }

  /** For `docket cleanup --list`. */
  list(): CleanupTargetSummary[] {
    return this.targets.map((t) => ({
      name: t.name,
      description: t.description,
      worker: t.worker,
      queue: t.queue,
      schedule: t.schedule ?? null,
      timezone: t.timezone,
      timeoutMs: t.timeoutMs ?? null,
      table: t.table ? [t.table.schema, t.table.name].filter(Boolean).join(".") : null,
      builtIn: builtInNames.has(t.name),
    }));
  }

  /** The queues of scheduled targets, which a node that runs queues runs too. */
  scheduledQueues(): string[] {
    return [...new Set(this.targets.filter((t) => t.schedule !== undefined).map((t) => t.queue))];
  }

  /**
   * The options with the queues of scheduled targets added (one job at a time), when the node
   * runs queues at all and does not configure those queues itself.
   */
  withScheduledQueues(options: ParsedQueueOptions): Readonly<ParsedQueueOptions> {
    const missing = this.scheduledQueues().filter((q) => !(q in options.queues));
    if (Object.keys(options.queues).length === 0 || missing.length === 0)
      return Object.freeze(options);
    const added = queueOptionsSchema.shape.queues.parse(
      Object.fromEntries(missing.map((q) => [q, 1])),
    );
    return Object.freeze({ ...options, queues: { ...options.queues, ...added } });
  }

  /** One cron entry per scheduled target, named after its worker. */
  cronEntries(): ParsedCronEntry[] {
    return this.targets
      .filter((t) => t.schedule !== undefined)
      .map((t) => ({
        name: t.worker,
        expression: t.schedule as string,
        timezone: t.timezone,
        worker: t.worker,
        args: {},
        catchUp: "latest",
      }));
  }

  /** The workers that run the targets as jobs. */
  workers(runtime: CleanupRuntime): AnyWorker[] {
    return this.targets.map((target) =>
      defineWorker<z.output<typeof cleanupArgsSchema>>({
        name: target.worker,
        queue: target.queue,
        maxAttempts: target.maxAttempts,
        tags: ["cleanup"],
        args: cleanupArgsSchema,
        async perform(job, { signal }) {
          const timeoutMs =
            job.args.timeout === undefined ? undefined : parseDuration(job.args.timeout);
          let result: CleanupResult;
          try {
            result = await runCleanup(target, {
              sql: runtime.sql(),
              schema: runtime.options.schema,
              options: runtime.options,
              logger: runtime.logger,
              signal,
              timeoutMs,
              batchSize: job.args.batchSize,
            });
          } catch (error) {
            if (error instanceof CleanupLockedError) return cancel(error.message);
            throw error;
          }
          // An error is retried like any job's; the counts so far are in the message.
          if (result.error !== undefined) {
            throw new Error(`${result.error} (after removing ${result.totalDeleted} rows)`);
          }
          return result as unknown as JsonValue;
        },
      }),
    );
  }

  /**
   * Checks every target's table and columns against the catalog.
   *
   * @throws ConfigError naming each target that does not fit its table.
   */
  async check(sql: Sql, schema: string): Promise<void> {
    const problems: ConfigError[] = [];
    for (const target of this.targets) {
      try {
        await resolveTargetTable(sql, target, schema);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(error);
      }
    }
    if (problems.length === 1) throw problems[0];
    if (problems.length > 1) {
      throw new ConfigError(problems.map((p) => p.message).join("; "), {
        path: problems[0]?.path as string,
      });
    }
  }

  /**
   * Runs a target now, in this process, under its lease.
   *
   * @throws CleanupTargetNotFoundError, CleanupLockedError, ConfigError (a bad duration)
   */
  async runNow(
    name: string,
    runtime: Pick<CleanupRunOptions, "sql" | "schema" | "options" | "logger">,
    options: RunCleanupOptions = {},
  ): Promise<CleanupResult> {
    const target = this.get(name);
    if (!target) throw new CleanupTargetNotFoundError(name, [...this.#targets.keys()]);
    const parsed = runCleanupOptionsSchema.safeParse(options);
    if (!parsed.success)
      throw zodToConfigError(parsed.error, "", runCleanupOptionsSchema, "runCleanup");
    const { timeout, wait, batchSize, signal } = parsed.data;
    return runCleanup(target, {
      ...runtime,
      timeoutMs: timeout,
      waitForLockMs: wait,
      batchSize,
      signal,
    });
  }
}

/** The target with its settings laid over its definition. */
function applySettings(target: CleanupTarget, settings: ParsedCleanupSettings): CleanupTarget {
  const schedule =
    settings.schedule === undefined ? target.schedule : settings.schedule || undefined;
  return Object.freeze({
    ...target,
    schedule,
    timezone: settings.timezone ?? target.timezone,
    timeoutMs: settings.timeout ?? target.timeoutMs,
    batchSize: settings.batchSize ?? target.batchSize,
  });
}
