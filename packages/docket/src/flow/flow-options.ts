import { z } from "zod";
import { durationMs } from "../validation/duration.js";

/**
 * Flow control options of one queue: `globalLimit`, `rateLimit` and `partition`, enforced by
 * the database where jobs are claimed (see docs/flow-control.md). Parsed with the queue's other
 * options; {@link storedFlow} turns them into the document kept in `queues.flow`.
 */

/** The longest rate-limit period accepted: a week. */
export const maxRatePeriodMs = 7 * 24 * 3600 * 1000;

/** Which fields of a job make its partition key: its worker, top-level args values, or both. */
const partitionBySchema = z
  .object({
    /** One partition per worker. */
    worker: z.literal(true).optional(),
    /** One partition per distinct combination of these top-level args values. */
    args: z.array(z.string().min(1).max(128)).min(1).max(8).optional(),
  })
  .strict()
  .refine((by) => by.worker !== undefined || by.args !== undefined, {
    message: "must name worker: true, args: [...] or both",
  });

/**
 * A partition key definition, as given in `partition.by` or `rateLimit.partition.by`.
 *
 * @example
 * ```ts
 * const by: PartitionBy = { worker: true, args: ["accountId"] };
 * ```
 */
export type PartitionBy = z.output<typeof partitionBySchema>;

/** The flow options of a queue, spread into the queue's own object schema. */
export const flowOptionsShape = {
  /** Jobs of this queue executing at once across every node together. */
  globalLimit: z.number().int().min(1).max(100_000).optional(),
  /** At most `allowed` job starts per `period` (a fixed window), for the queue or per partition. */
  rateLimit: z
    .object({
      allowed: z.number().int().min(1).max(1_000_000),
      period: durationMs({ min: 1000 }).refine((ms) => ms <= maxRatePeriodMs, {
        message: "must be at most 7d",
      }),
      /** Count starts per partition key instead of for the whole queue. */
      partition: z.object({ by: partitionBySchema }).strict().optional(),
    })
    .strict()
    .optional(),
  /** At most `limit` jobs executing at once per distinct key, across every node. */
  partition: z
    .object({ limit: z.number().int().min(1).max(10_000), by: partitionBySchema })
    .strict()
    .optional(),
};

/**
 * Flow options of a queue as given (durations as seconds or strings), in `queues.<name>` or
 * to `limitQueue`.
 *
 * @example
 * ```ts
 * const limits: FlowOptions = { globalLimit: 3, rateLimit: { allowed: 100, period: "1m" } };
 * ```
 */
export interface FlowOptions {
  globalLimit?: number;
  rateLimit?: { allowed: number; period: number | string; partition?: { by: PartitionBy } };
  partition?: { limit: number; by: PartitionBy };
}

/**
 * Flow options after parsing: the period in milliseconds (what `queueLimits` returns).
 *
 * @example
 * ```ts
 * const limits: ParsedFlowOptions | null = await queue.queueLimits("exports");
 * ```
 */
export interface ParsedFlowOptions {
  globalLimit?: number | undefined;
  rateLimit?: { allowed: number; period: number; partition?: { by: PartitionBy } | undefined };
  partition?: { limit: number; by: PartitionBy } | undefined;
}

/** The schema of {@link FlowOptions} on their own, as `limitQueue` takes them. */
export const flowOptionsSchema = z.object(flowOptionsShape).strict();

function sameBy(a: PartitionBy, b: PartitionBy): boolean {
  return (
    JSON.stringify([a.worker ?? false, a.args ?? []]) ===
    JSON.stringify([b.worker ?? false, b.args ?? []])
  );
}

/**
 * Adds an issue when the rate limit's partition and the queue's partition use different keys:
 * a queue has one partition key per job.
 */
export function checkFlow(flow: ParsedFlowOptions, ctx: z.RefinementCtx): void {
  const rateBy = flow.rateLimit?.partition?.by;
  const by = flow.partition?.by;
  if (rateBy && by && !sameBy(rateBy, by)) {
    ctx.addIssue({
      code: "custom",
      path: ["rateLimit", "partition", "by"],
      message: "must be the same as partition.by (a queue has one partition key per job)",
    });
  }
}

/** The document kept in `queues.flow` and read by the claim (see migration 0007). */
export interface StoredFlow {
  globalLimit?: number;
  rateLimit?: { allowed: number; periodMs: number; partitioned: boolean };
  partition?: { limit: number };
  by?: { worker?: true; args?: string[] };
}

/**
 * The stored form of a queue's flow options, or null when it has none (an unlimited queue).
 *
 * @example
 * ```ts
 * storedFlow({ partition: { limit: 1, by: { args: ["accountId"] } } });
 * // { partition: { limit: 1 }, by: { args: ["accountId"] } }
 * ```
 */
export function storedFlow(flow: ParsedFlowOptions): StoredFlow | null {
  const stored: StoredFlow = {};
  if (flow.globalLimit !== undefined) stored.globalLimit = flow.globalLimit;
  if (flow.rateLimit) {
    stored.rateLimit = {
      allowed: flow.rateLimit.allowed,
      periodMs: flow.rateLimit.period,
      partitioned: flow.rateLimit.partition !== undefined,
    };
  }
  if (flow.partition) stored.partition = { limit: flow.partition.limit };
  const by = flow.partition?.by ?? flow.rateLimit?.partition?.by;
  if (by) {
    stored.by = {};
    if (by.worker) stored.by.worker = true;
    if (by.args) stored.by.args = [...by.args];
  }
  return Object.keys(stored).length === 0 ? null : stored;
}

/**
 * The flow options a stored document stands for (for `docket status` and `queueLimits`).
 *
 * @example
 * ```ts
 * flowFromStored({ globalLimit: 3 }); // { globalLimit: 3 }
 * ```
 */
export function flowFromStored(stored: StoredFlow | null): ParsedFlowOptions | null {
  if (!stored) return null;
  const flow: ParsedFlowOptions = {};
  const by = stored.by ? { ...stored.by } : undefined;
  if (stored.globalLimit !== undefined) flow.globalLimit = stored.globalLimit;
  if (stored.rateLimit) {
    flow.rateLimit = { allowed: stored.rateLimit.allowed, period: stored.rateLimit.periodMs };
    if (stored.rateLimit.partitioned && by) flow.rateLimit.partition = { by };
  }
  if (stored.partition && by) flow.partition = { limit: stored.partition.limit, by };
  return flow;
}
