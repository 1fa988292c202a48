import { z } from "zod";
import { durationMs } from "../validation/duration.js";
import type { Plugin } from "./plugin.js";

/**
 * Option schemas of leader election, heartbeats, the pruner, the lifeline and plugins. The
 * defaults live here and nowhere else; `queueOptionsSchema` in options.ts refers to them.
 */

/** Loops of maintenance services may run as often as this (tests, small deployments). */
const minLoopMs = 100;

/** `leadership`: the lease that makes one started node the leader. */
export const leadershipOptionsSchema = z
  .object({
    /**
     * How long a lease lasts without renewal. The leader renews it every third of this; after
     * a leader dies another node takes over within one `ttl`.
     */
    ttl: durationMs({ min: 1000 }).default(10_000),
  })
  .strict();

/** `heartbeat`: how each node tells the others that its queues are alive. */
export const heartbeatOptionsSchema = z
  .object({
    /** How often a node refreshes the rows of its queues in `producers`. */
    interval: durationMs({ min: minLoopMs }).default(2_000),
    /**
     * A producer whose last heartbeat is older than this counts as gone: its jobs are rescued
     * and its row deleted. Must be at least twice `interval`, and the same on every node.
     */
    timeout: durationMs({ min: 200 }).default(10_000),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.timeout < 2 * value.interval) {
      ctx.addIssue({
        code: "custom",
        path: ["timeout"],
        message: `must be at least twice heartbeat.interval (${value.interval}ms), got ${value.timeout}ms`,
      });
    }
  });

/** Retention of one final state: a duration, or `false` to keep those jobs for ever. */
const retention = z.union([z.literal(false), durationMs()]);

/** `pruner`: deletes finished jobs once they are old enough. */
export const prunerOptionsSchema = z
  .object({
    /** How often the leader prunes. */
    interval: durationMs({ min: minLoopMs }).default(60_000),
    /** Completed, cancelled and discarded jobs older than this are deleted. */
    maxAge: durationMs().default(86_400_000),
    /** Per-state retention overriding `maxAge`, e.g. `{ discarded: "7d" }`; `false` keeps for ever. */
    maxAgeByState: z
      .object({
        completed: retention.optional(),
        cancelled: retention.optional(),
        discarded: retention.optional(),
      })
      .strict()
      .default({}),
    /** At most this many jobs are deleted per run. */
    limit: z.number().int().min(1).max(10_000_000).default(10_000),
    /** Jobs deleted per statement: each batch is its own short transaction. */
    batchSize: z.number().int().min(1).max(100_000).default(1_000),
  })
  .strict();

/** `lifeline`: rescues jobs left `executing` by a node that is gone. */
export const lifelineOptionsSchema = z
  .object({
    /** How often the leader looks for orphaned jobs by time (`rescueAfter`) as well. */
    interval: durationMs({ min: minLoopMs }).default(60_000),
    /**
     * How often the leader looks for the jobs of producers that stopped heartbeating (with
     * `trustHeartbeats`): a crashed node's jobs come back within `heartbeat.timeout` plus this.
     * One indexed statement over the `executing` jobs per run.
     */
    heartbeatCheckInterval: durationMs({ min: minLoopMs }).default(2_000),
    /**
     * Jobs executing longer than this are rescued when their producer cannot vouch for them:
     * always with `trustHeartbeats: false`, otherwise only jobs that record no node.
     */
    rescueAfter: durationMs({ min: 1000 }).default(300_000),
    /**
     * Accurate rescue: jobs of producers that heartbeat are never rescued, and jobs of producers
     * that stopped are rescued without waiting for `rescueAfter`. `false` rescues by time only.
     */
    trustHeartbeats: z.boolean().default(true),
    /** Jobs changed per statement. */
    batchSize: z.number().int().min(1).max(100_000).default(1_000),
  })
  .strict();

/** `stats`: the leader's per-minute history of finished jobs (`job_stats`, `queue.stats()`). */
export const statsOptionsSchema = z
  .object({
    /** How often the leader rolls finished minutes up. */
    interval: durationMs({ min: minLoopMs }).default(60_000),
    /** History older than this is deleted. */
    retention: durationMs({ min: 60_000 }).default(14 * 86_400_000),
    /**
     * A minute is rolled up once it ended this long ago, so that outcomes stored a moment late
     * still count in their minute.
     */
    lag: durationMs().default(30_000),
  })
  .strict();

const pluginSchema = z.custom<Plugin>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as Plugin).name === "string" &&
    (v as Plugin).name.length > 0 &&
    typeof (v as Plugin).start === "function" &&
    typeof (v as Plugin).stop === "function",
  "must be a plugin: an object with a name, start(context) and stop()",
);

/**
 * The maintenance keys of `new Queue(options)`, spread into `queueOptionsSchema`. `prefault`
 * parses the default through the schema, so `{}` comes out with every default filled in.
 */
export const maintenanceOptionsShape = {
  leadership: z.union([z.literal(false), leadershipOptionsSchema]).prefault({}),
  heartbeat: heartbeatOptionsSchema.prefault({}),
  pruner: z.union([z.literal(false), prunerOptionsSchema]).prefault({}),
  lifeline: z.union([z.literal(false), lifelineOptionsSchema]).prefault({}),
  stats: z.union([z.literal(false), statsOptionsSchema]).prefault({}),
  plugins: z.array(pluginSchema).default([]),
};

/** `stats` options as written by users. */
export type StatsRollupOptions = z.input<typeof statsOptionsSchema>;
/** `stats` options after parsing: durations in milliseconds. */
export type ParsedStatsRollupOptions = z.output<typeof statsOptionsSchema>;

/** `pruner` options as written by users. */
export type PrunerOptions = z.input<typeof prunerOptionsSchema>;
/** `pruner` options after parsing: durations in milliseconds. */
export type ParsedPrunerOptions = z.output<typeof prunerOptionsSchema>;
/** `lifeline` options as written by users. */
export type LifelineOptions = z.input<typeof lifelineOptionsSchema>;
/** `lifeline` options after parsing: durations in milliseconds. */
export type ParsedLifelineOptions = z.output<typeof lifelineOptionsSchema>;
/** `leadership` options as written by users. */
export type LeadershipOptions = z.input<typeof leadershipOptionsSchema>;
/** `heartbeat` options as written by users. */
export type HeartbeatOptions = z.input<typeof heartbeatOptionsSchema>;
/** `heartbeat` options after parsing: durations in milliseconds. */
export type ParsedHeartbeatOptions = z.output<typeof heartbeatOptionsSchema>;
