import type { Listener } from "../db/listen-connection.js";
import type { JobProgress } from "../events.js";
import { progressChannel } from "../sql/progress.js";
import type { JsonValue } from "../types.js";

/** What {@link ProgressEvents} needs from its queue. */
export interface ProgressEventsOptions {
  listener: Listener;
  schema: string;
  /** This queue's node: its own reports are emitted where they are made, not heard again. */
  node: string;
  emit: (event: JobProgress) => void;
  onError: (error: unknown) => void;
}

/**
 * Brings the progress reports of other nodes to a queue as `job:progress` events: while the
 * queue has a `job:progress` listener it LISTENs on the progress channel (see sql/progress.ts),
 * whether or not it runs queues, so a dashboard or a request handler can follow a job anywhere.
 * With `listen: false` nothing is heard from other nodes.
 */
export class ProgressEvents {
  readonly #options: ProgressEventsOptions;
  #subscription: Promise<{ unlisten: () => Promise<void> } | undefined> | undefined;

  constructor(options: ProgressEventsOptions) {
    this.#options = options;
  }

  /** LISTENs, once, however many times it is called. */
  follow(): void {
    const { listener, schema, onError } = this.#options;
    if (this.#subscription || !listener.enabled) return;
    const subscription = listener
      .listen(
        progressChannel(schema),
        (payload) => this.#receive(payload),
        () => {},
      )
      .catch((error: unknown) => {
        onError(error);
        if (this.#subscription === subscription) this.#subscription = undefined;
        return undefined;
      });
    this.#subscription = subscription;
  }

  /** Stops LISTENing (the last `job:progress` listener is gone). */
  unfollow(): void {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    void subscription
      ?.then((s) => s?.unlisten())
      .catch((error: unknown) => this.#options.onError(error));
  }

  #receive(payload: string): void {
    const event = parseNotice(payload);
    if (!event || event.node === this.#options.node) return;
    try {
      this.#options.emit(event);
    } catch (error) {
      this.#options.onError(error);
    }
  }
}

/** A progress NOTIFY's payload as the event, or undefined for anything else. */
function parseNotice(payload: string): JobProgress | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { id, queue, worker, attempt, node, progress } = value as Record<string, unknown>;
  if (
    typeof id !== "string" ||
    typeof queue !== "string" ||
    typeof worker !== "string" ||
    typeof attempt !== "number" ||
    typeof node !== "string" ||
    progress === undefined
  ) {
    return undefined;
  }
  return { id, queue, worker, attempt, node, progress: progress as JsonValue };
}
