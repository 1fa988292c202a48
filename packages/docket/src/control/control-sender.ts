import { z } from "zod";
import { run } from "../sql/executor.js";
import { notifyControl, updateQueue } from "../sql/queues.js";
import { zodToConfigError } from "../validation/zod-errors.js";
import { nameSchema } from "../workers/define-worker.js";
import { applyControl, type ControlContext, type ControlMessage } from "./control-message.js";

/** What `pauseQueue` and `resumeQueue` are given, besides the action. */
const controlCallSchema = z
  .object({
    queue: nameSchema,
    node: z.string({ error: "must be a node name" }).min(1, "must be a node name").optional(),
  })
  .strict();

/** What `scaleQueue` is given: also the limit, `null` for the configured one. */
const scaleCallSchema = controlCallSchema.extend({
  limit: z
    .number({ error: limitMessage })
    .int({ error: limitMessage })
    .min(1, { error: limitMessage })
    .max(10_000, { error: limitMessage })
    .nullable(),
});

function limitMessage(issue: { input?: unknown }): string {
  return `a queue's limit must be an integer from 1 to 10000, or null; got ${String(issue.input)}`;
}

/** @throws ConfigError naming the queue, node or limit, as the other options do. */
function checkCall(message: Exclude<ControlMessage, { action: "cancel" }>): void {
  const { action, ...given } = message;
  const schema = action === "scale" ? scaleCallSchema : controlCallSchema;
  const parsed = schema.safeParse(given);
  if (!parsed.success) throw zodToConfigError(parsed.error, "", schema, `${action}Queue`);
}

/**
 * Sends a queue change: applied here at once, then to the other nodes by NOTIFY; stored in
 * `queues` unless it targets one node.
 */
export async function controlQueue(
  context: ControlContext,
  message: Exclude<ControlMessage, { action: "cancel" | "limit" }>,
): Promise<void> {
  checkCall(message);
  if (message.node !== undefined) {
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
