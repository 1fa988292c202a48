import type { Sql } from "postgres";
import type { Listener } from "../db/listen-connection.js";
import { JobCancelledError } from "../errors.js";
import type { Producer } from "../runner/producer.js";

/**
 * Control of queues at run time, across nodes. A change for every node is stored in `queues`
 * (so that a node started later, or restarted, follows it) and announced by NOTIFY on the
 * control channel, which each started node LISTENs to. The same channel carries the ids of
 * cancelled jobs, so that whichever node runs one aborts its signal.
 */

/** A message on the control channel. `node` limits it to one node. */
export type ControlMessage =
  | { action: "pause" | "resume"; queue: string; node?: string }
  | { action: "scale"; queue: string; limit: number | null; node?: string }
  /** The queue's stored limits changed (flow control): `limited` says whether it has any. */
  | { action: "limit"; queue: string; limited: boolean; node?: undefined }
  | { action: "cancel"; ids: string[] };

/** Options of {@link Queue.pauseQueue}, {@link Queue.resumeQueue} and {@link Queue.scaleQueue}. */
export interface QueueControlOptions {
  /**
   * Only this node (a node name, such as `queue.node`); the change is not stored and ends when
   * that node stops. Default: every node, stored.
   */
  node?: string;
}

/** One node's view of one of its queues, from `queue.checkQueue(name)`. */
export interface QueueCheck {
  queue: string;
  paused: boolean;
  /** Jobs of the queue that may run at once on this node. */
  limit: number;
  /** Jobs this node holds: running, or claimed and waiting for a slot. */
  running: number;
}

/** What queue control needs of its node. */
export interface ControlContext {
  sql: Sql;
  /** Where LISTEN runs; the sender needs none. */
  listener?: Listener;
  schema: string;
  node: string;
  /** The producers of the running queues; empty until `start()`. */
  producers: ReadonlyMap<string, Producer>;
  /** Each queue's limit and paused state as configured on this node. */
  configured: Readonly<Record<string, { limit: number; paused: boolean }>>;
}

/** Applies a message to this node's producers; messages for other nodes are ignored. */
export function applyControl(context: ControlContext, message: ControlMessage): void {
  if (message.action === "cancel") {
    for (const id of message.ids) {
      for (const producer of context.producers.values()) {
        if (producer.abort(id, new JobCancelledError(id))) break;
      }
    }
    return;
  }
  if (message.node !== undefined && message.node !== context.node) return;
  const producer = context.producers.get(message.queue);
  if (!producer) return;
  if (message.action === "limit") producer.setLimited(message.limited);
  else if (message.action === "pause") producer.pause();
  else if (message.action === "resume") producer.resume();
  else if (message.action === "scale")
    producer.scale(message.limit ?? context.configured[message.queue]?.limit ?? producer.limit);
}

/** A control message from its NOTIFY payload, or undefined for anything else. */
export function parseMessage(payload: string): ControlMessage | undefined {
  try {
    const message = JSON.parse(payload) as ControlMessage;
    if (message.action === "cancel") return Array.isArray(message.ids) ? message : undefined;
    if (typeof message.queue !== "string") return undefined;
    if (message.action === "limit")
      return typeof message.limited === "boolean" ? message : undefined;
    return ["pause", "resume", "scale"].includes(message.action) ? message : undefined;
  } catch {
    return undefined;
  }
}
