import type { Sql } from "postgres";
import { listenerCheckMs, listenReliably } from "../db/listener.js";
import { ConfigError, JobCancelledError } from "../errors.js";
import type { Producer } from "../runner/producer.js";
import { run } from "../sql/executor.js";
import {
  controlChannel,
  notifyControl,
  type QueueRow,
  registerQueues,
  updateQueue,
} from "../sql/queues.js";
import { nameSchema } from "../workers/define-worker.js";

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
  schema: string;
  node: string;
  /** The producers of the running queues; empty until `start()`. */
  producers: ReadonlyMap<string, Producer>;
  /** Each queue's limit and paused state as configured on this node. */
  configured: Readonly<Record<string, { limit: number; paused: boolean }>>;
}

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
  if (message.action === "pause") producer.pause();
  else if (message.action === "resume") producer.resume();
  else if (message.action === "scale")
    producer.scale(message.limit ?? context.configured[message.queue]?.limit ?? producer.limit);
}

/**
 * Sends a queue change: applied here at once, then to the other nodes by NOTIFY; stored in
 * `queues` unless it targets one node.
 */
export async function controlQueue(
  context: ControlContext,
  message: Exclude<ControlMessage, { action: "cancel" }>,
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

function parseMessage(payload: string): ControlMessage | undefined {
  try {
    const message = JSON.parse(payload) as ControlMessage;
    if (message.action === "cancel") return Array.isArray(message.ids) ? message : undefined;
    if (typeof message.queue !== "string") return undefined;
    return ["pause", "resume", "scale"].includes(message.action) ? message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Follows the control channel for one started node. At start it LISTENs first and reads the
 * stored queue state second, and applies messages that arrive meanwhile after that state, so
 * that no change is lost or undone by a stale read.
 */
export class ControlListener {
  readonly #context: ControlContext;
  readonly #onError: (error: unknown) => void;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(context: ControlContext, onError: (error: unknown) => void) {
    this.#context = context;
    this.#onError = onError;
  }

  /** Listens and applies the stored state of this node's queues. */
  async start(): Promise<void> {
    const { sql, schema } = this.#context;
    let buffered: ControlMessage[] | undefined = [];
    const receive = (payload: string) => {
      const message = parseMessage(payload);
      if (!message) return;
      if (buffered) buffered.push(message);
      else this.#apply(message);
    };
    const listener = await listenReliably(sql, controlChannel(schema), receive, {
      checkIntervalMs: listenerCheckMs,
      onError: this.#onError,
      // Messages sent while the subscription was down are lost: read the stored state again.
      onListen: () => {
        if (!buffered) void this.#refresh();
      },
    });
    this.#unlisten = listener.unlisten;
    const rows = await run(sql, registerQueues(schema, [...this.#context.producers.keys()]));
    for (const row of rows) this.#applyStored(row);
    const pending = buffered;
    buffered = undefined;
    for (const message of pending) this.#apply(message);
  }

  async #refresh(): Promise<void> {
    const { sql, schema } = this.#context;
    try {
      const rows = await run(sql, registerQueues(schema, [...this.#context.producers.keys()]));
      for (const row of rows) this.#applyStored(row);
    } catch (error) {
      this.#onError(error);
    }
  }

  async stop(): Promise<void> {
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  #applyStored(row: QueueRow): void {
    const producer = this.#context.producers.get(row.name);
    if (!producer) return;
    if (row.paused) producer.pause();
    if (row.concurrency !== null) producer.scale(row.concurrency);
  }

  #apply(message: ControlMessage): void {
    try {
      applyControl(this.#context, message);
    } catch (error) {
      this.#onError(error);
    }
  }
}
