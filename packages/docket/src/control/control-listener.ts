import { pollOnly } from "../db/listen-connection.js";
import { listenerCheckMs, listenReliably } from "../db/listener.js";
import { run } from "../sql/executor.js";
import { controlChannel, type QueueRow, registerQueues } from "../sql/queues.js";
import {
  applyControl,
  type ControlContext,
  type ControlMessage,
  parseMessage,
} from "./control-message.js";

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
    const { sql, schema, listener: connection = pollOnly } = this.#context;
    let buffered: ControlMessage[] | undefined = [];
    const receive = (payload: string) => {
      const message = parseMessage(payload);
      if (!message) return;
      if (buffered) buffered.push(message);
      else this.#apply(message);
    };
    const listener = await listenReliably(connection, controlChannel(schema), receive, {
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
    if (producer.limited !== (row.flow !== null)) producer.setLimited(row.flow !== null);
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
