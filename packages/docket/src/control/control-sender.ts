import { ConfigError } from "../errors.js";
import { run } from "../sql/executor.js";
import { notifyControl, updateQueue } from "../sql/queues.js";
import { nameSchema } from "../workers/define-worker.js";
import { applyControl, type ControlContext, type ControlMessage } from "./control-message.js";

function checkName(name: unknown, call: string): string {
  const parsed = nameSchema.safeParse(name);
  if (!parsed.success) {
    throw new ConfigError(
      `${call}: queue name ${JSON.stringify(name)} ${parsed.error.issues[0]?.message}`,
      {
        path: "queue",
      },
    );
  }
  return parsed.data;
}

function checkLimit(limit: unknown): number | null {
  if (limit === null) return null;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new ConfigError(
      `scaleQueue: limit must be an integer from 1 to 10000, or null, got ${String(limit)}`,
      {
        path: "limit",
      },
    );
  }
  return limit;
}

/**
 * Sends a queue change: applied here at once, then to the other nodes by NOTIFY; stored in
 * `queues` unless it targets one node.
 */
export async function controlQueue(
  context: ControlContext,
  message: Exclude<ControlMessage, { action: "cancel" | "limit" }>,
): Promise<void> {
  const call = `${message.action}Queue`;
  checkName(message.queue, call);
  if (message.action === "scale") checkLimit(message.limit);
  if (message.node !== undefined) {
    if (typeof message.node !== "string" || message.node.length === 0) {
      throw new ConfigError(`${call}: node must be a node name`, { path: "node" });
    }
    if (message.node !== context.node)
      await run(context.sql, notifyControl(context.schema, message));
  } else {
    const change =
      message.action === "scale"
        ? { concurrency: message.limit }
        : { paused: message.action === "pause" };
    await run(context.sql, updateQueue(context.schema, message.queue, change, message));
  }
  applyControl(context, message);
}
