import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import { cleanupOptionSchema } from "./cleanup/cleanup-options.js";
import { cronOptionSchema } from "./cron/cron-options.js";
import { connectionOptionSchema, listenOptionSchema } from "./db/connection-options.js";
import { sessionOptionsShape } from "./db/session-options.js";
import { checkFlow, flowOptionsShape } from "./flow/flow-options.js";
import type { Logger } from "./logger.js";
import { maintenanceOptionsShape } from "./maintenance/maintenance-options.js";
import { durationMs } from "./validation/duration.js";
import { checkIdentifier, isSystemSchema } from "./validation/identifiers.js";
import { findUnstorableText } from "./validation/json.js";
import { zodToConfigError } from "./validation/zod-errors.js";
import { type AnyWorker, isWorker, nameSchema } from "./workers/define-worker.js";

const identifier = z.string().superRefine((value, ctx) => {
  try {
    checkIdentifier(value, "schema", 40);
    if (isSystemSchema(value)) {
      ctx.addIssue({
        code: "custom",
        message: `schema ${JSON.stringify(value)} belongs to PostgreSQL; docket needs a schema of its own`,
      });
    }
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

const queueLimit = z.number().int().min(1).max(10_000);

/** Options of one queue on this node. */
const queueSchema = z.union([
  queueLimit.transform((limit) => ({
    limit,
    paused: false,
    pollInterval: undefined,
    prefetch: "auto" as const,
    globalLimit: undefined,
    rateLimit: undefined,
    partition: undefined,
  })),
  z
    .object({
      /** Jobs of this queue run at once on this node. */
      limit: queueLimit,
      /** Start paused: nothing runs until `resumeQueue`. */
      paused: z.boolean().default(false),
      /** Overrides the queue-wide poll interval. */
      pollInterval: durationMs({ min: 10 }).optional(),
      /**
       * Jobs claimed ahead of free slots, kept in a local buffer; "auto" sizes the buffer to
       * about 100 ms of the queue's recent throughput (at most 100 per slot, 1,000 in all).
       */
      prefetch: z.union([z.literal("auto"), z.number().int().min(0).max(10_000)]).default("auto"),
      // globalLimit, rateLimit and partition: flow control across nodes (flow/flow-options.ts).
      ...flowOptionsShape,
    })
    .strict()
    .superRefine(checkFlow),
]);

const workerSchema = z.custom<AnyWorker>(isWorker, "must be a worker made by defineWorker()");

const loggerSchema = z.custom<Logger>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    ["debug", "info", "warn", "error"].every(
      (m) => typeof (v as Record<string, unknown>)[m] === "function",
    ),
  "must have debug, info, warn and error methods",
);

/** The schema of `new Queue(options)`. Defaults live here, nowhere else. */
export const queueOptionsSchema = z
  .object({
    connection: connectionOptionSchema,
    /** Where LISTEN runs: true (own session connection), false (poll only), or a direct URL/sql. */
    listen: listenOptionSchema,
    schema: identifier.default("docket"),
    /**
     * Partitioned jobs table (docs/scaling.md), chosen at migrate time: `migrate()` builds it,
     * online when jobs exist; `start()` refuses a plain table while this is true.
     */
    partitioned: z.boolean().default(false),
    node: z
      .string()
      .min(1)
      .max(255)
      .superRefine((value, ctx) => {
        const problem = findUnstorableText(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    queues: z.record(nameSchema, queueSchema).default({}),
    workers: z.array(workerSchema).default([]),
    pollInterval: durationMs({ min: 10 }).default(1000),
    stageInterval: durationMs({ min: 10 }).default(1000),
    ackInterval: durationMs({ min: 0 }).default(2),
    ackBatchSize: z.number().int().min(1).max(10_000).default(500),
    /** Least time between two writes of a job's progress (`progress()` in `perform`). */
    progressInterval: durationMs({ min: 10 }).default(500),
    shutdownGrace: durationMs().default(15_000),
    maxArgsBytes: z.number().int().min(64).default(1_048_576),
    poolSize: z.number().int().min(2).max(1000).default(10),
    // statementTimeout, lockTimeout: limits on docket's statements (db/session-options.ts).
    ...sessionOptionsShape,
    logger: loggerSchema.optional(),
    /**
     * Testing mode (see docs/testing.md): "inline" performs each job at insert, without the
     * database; "manual" inserts jobs but `start()` runs nothing; "disabled" is normal running.
     */
    testing: z.enum(["disabled", "inline", "manual"]).default("disabled"),
    // Leader election, heartbeats, pruner, lifeline and plugins (see maintenance-options.ts).
    ...maintenanceOptionsShape,
    // Cron entries (cron-options.ts) and cleanup targets with their settings by name, from
    // `[cleanup.<Target>]` in docket.toml and CLEANUP_<TARGET>_CRON / _TIMEOUT (cleanup-options.ts).
    cron: cronOptionSchema,
    cleanup: cleanupOptionSchema,
  })
  .strict();

/** Options accepted by `new Queue()`. */
export type QueueOptions = z.input<typeof queueOptionsSchema>;

/** Options after parsing: defaults filled in, durations in milliseconds. */
export type ParsedQueueOptions = z.output<typeof queueOptionsSchema> & { node: string };

/** Parses and freezes queue options, throwing a ConfigError that names the offending key. */
export function parseQueueOptions(options: unknown): Readonly<ParsedQueueOptions> {
  const parsed = queueOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) throw zodToConfigError(parsed.error, "", queueOptionsSchema);
  const node = parsed.data.node ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  return Object.freeze({ ...parsed.data, node });
}
