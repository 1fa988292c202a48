import type { Sql } from "postgres";
import { ConfigError } from "../errors.js";
import type { Producer } from "../runner/producer.js";
import { run } from "../sql/executor.js";
import { configureFlow, selectQueueFlow } from "../sql/flow.js";
import { zodToConfigError } from "../validation/zod-errors.js";
import { nameSchema } from "../workers/define-worker.js";
import {
  checkFlow,
  type FlowOptions,
  flowFromStored,
  flowOptionsSchema,
  type ParsedFlowOptions,
  type StoredFlow,
  storedFlow,
} from "./flow-options.js";

/**
 * Where a queue's limits are kept: in its row of `queues`, which every limited claim reads. A
 * node's configured limits are written at start (unless a runtime change overrides them), and
 * `limitQueue` changes them on every node at once; NOTIFY tells the nodes to switch between the
 * plain and the limited claim.
 */

/** What storing limits needs of its node. */
export interface FlowContext {
  sql: Sql;
  schema: string;
  /** The producers of the running queues; empty until `start()`. */
  producers: ReadonlyMap<string, Producer>;
  /** Each queue's options as configured on this node. */
  configured: Readonly<Record<string, ParsedFlowOptions>>;
}

/**
 * Writes the configured limits of this node's queues that have some, before the node claims.
 * A queue whose limits were set at run time (`limitQueue`) keeps those.
 */
export async function storeConfiguredFlows(context: FlowContext): Promise<void> {
  for (const [name, settings] of Object.entries(context.configured)) {
    const flow = storedFlow(settings);
    if (flow === null) continue;
    await run(
      context.sql,
      configureFlow(context.schema, name, flow, { override: false, configured: true }),
    );
  }
}

/** The limits of {@link setQueueLimits} after checking, or null to go back to the configured. */
function parseLimits(
  name: unknown,
  limits: unknown,
): { queue: string; flow: ParsedFlowOptions | null } {
  const queue = nameSchema.safeParse(name);
  if (!queue.success) {
    throw new ConfigError(
      `limitQueue: queue name ${JSON.stringify(name)} ${queue.error.issues[0]?.message}`,
      { path: "queue" },
    );
  }
  if (limits === null) return { queue: queue.data, flow: null };
  const parsed = flowOptionsSchema.superRefine(checkFlow).safeParse(limits);
  if (!parsed.success) throw zodToConfigError(parsed.error, "limitQueue", flowOptionsSchema);
  return { queue: queue.data, flow: parsed.data };
}

/**
 * Sets a queue's limits on every node, kept across restarts: `limits` replaces the queue's
 * `globalLimit`, `rateLimit` and `partition` as a whole (`{}`: none), and `null` goes back to
 * this node's configured limits for the queue (none if it does not configure them). Applied
 * by the next claim of every node.
 */
export async function setQueueLimits(
  context: FlowContext,
  name: string,
  limits: FlowOptions | null,
): Promise<ParsedFlowOptions | null> {
  const { queue, flow } = parseLimits(name, limits);
  const configured = context.configured[queue];
  const stored = flow === null ? (configured ? storedFlow(configured) : null) : storedFlow(flow);
  const [row] = await run(
    context.sql,
    configureFlow(context.schema, queue, stored, { override: flow !== null, configured: false }),
  );
  const limited = row?.flow !== null && row?.flow !== undefined;
  context.producers.get(queue)?.setLimited(limited);
  return flowFromStored((row?.flow ?? null) as StoredFlow | null);
}

/** The limits stored for a queue (null: none), as `docket status` shows them. */
export async function readQueueLimits(
  context: Pick<FlowContext, "sql" | "schema">,
  name: string,
): Promise<ParsedFlowOptions | null> {
  const [row] = await run(context.sql, selectQueueFlow(context.schema, name));
  return flowFromStored((row?.flow ?? null) as StoredFlow | null);
}
