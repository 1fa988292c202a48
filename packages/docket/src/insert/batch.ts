import type { CleanupTarget } from "../cleanup/define-target.js";
import { InsertError } from "../errors.js";
import type { GraphBatch } from "../sql/workflows.js";
import type { Job } from "../types.js";
import type { AnyWorker, Worker } from "../workers/define-worker.js";
import type { PendingStep, StepInsertOptions } from "./graph-insert.js";
import { type InsertContext, resolveWorker } from "./insert-jobs.js";
import { checkArgs, parseInsertOptions, sharedInsertFields } from "./insert-options.js";
import type { WorkflowInsertOptions } from "./workflow.js";

/**
 * What a batch's callback finds in `args.batch`: the batch's id and how many of its jobs ended
 * in each way when the callback was inserted (`pending`: not finished yet, only under
 * `callbackOn: "discarded"`).
 */
export interface BatchSummary {
  id: string;
  total: number;
  completed: number;
  discarded: number;
  cancelled: number;
  pending: number;
}

/** The job a batch inserts once its jobs have finished. */
export interface BatchCallback<Args = Record<string, unknown>, Input = Args> {
  worker: Worker<Args, Input> | string;
  /** The callback's args; a `batch` key ({@link BatchSummary}) is added to them. */
  args?: Omit<Input, "batch">;
  options?: StepInsertOptions;
}

/** Options of `queue.batch()` (and of `queue.workflow()`, whose steps then form a batch). */
export interface BatchOptions<Args = Record<string, unknown>, Input = Args> {
  callback: BatchCallback<Args, Input>;
  /**
   * `"finished"` (default): the callback is inserted when every job of the batch has finished
   * (completed, discarded or cancelled). `"discarded"`: as soon as one is discarded, or when all
   * have finished if none is. Either way it is inserted exactly once.
   */
  callbackOn?: "finished" | "discarded";
}

/** What `batch.insert()` resolves with. */
export interface InsertedBatch {
  /** The batch's id, also in the callback's `args.batch.id`. */
  id: string;
  /** The batch's jobs, in the order they were added. */
  jobs: Job[];
}

/** What a batch's insert does with its jobs; given by the queue. */
export type BatchInserter = (
  steps: PendingStep[],
  options: BatchOptions<never, never>,
  tx: WorkflowInsertOptions["tx"],
) => Promise<{ jobs: Job[]; batchId: string | null }>;

const placeholder: BatchSummary = {
  id: "0",
  total: 0,
  completed: 0,
  discarded: 0,
  cancelled: 0,
  pending: 0,
};

/**
 * Checks a batch's callback as an insert would (its args with a `batch` key, against the
 * worker's schema) and returns the row the batch keeps for it.
 */
export async function resolveCallback(
  context: Pick<InsertContext, "workers" | "maxArgsBytes">,
  options: BatchOptions<never, never>,
): Promise<GraphBatch> {
  const callback = options?.callback as unknown as BatchCallback | undefined;
  if (!callback || typeof callback !== "object") {
    throw new InsertError("batch: option callback is required: { worker, args?, options? }");
  }
  const on = options.callbackOn ?? "finished";
  if (on !== "finished" && on !== "discarded") {
    throw new InsertError(
      `batch: option callbackOn must be "finished" or "discarded", got ${JSON.stringify(on)}`,
    );
  }
  const definition = resolveWorker(context.workers, callback.worker as AnyWorker | string);
  const parsed = parseInsertOptions(callback.options as StepInsertOptions | undefined);
  const shared = sharedInsertFields(definition, parsed);
  const args = { ...(callback.args ?? {}), batch: placeholder };
  const json = await checkArgs(definition, args, context.maxArgsBytes);
  return {
    callbackOn: on,
    callback: {
      queue: shared.queue,
      worker: shared.worker,
      args: JSON.parse(json),
      meta: shared.meta,
      tags: shared.tags,
      priority: shared.priority,
      max_attempts: shared.max_attempts,
    },
  };
}

/**
 * Jobs inserted together, with a callback job inserted exactly once when all of them have
 * finished (or at the first discard, as asked), its `args.batch` holding the counts per
 * outcome. The callback is inserted by the same transaction that stores the last outcome, on
 * whichever node, so a crash never loses it nor inserts it twice. Made by `queue.batch()`.
 *
 * @example
 * ```ts
 * const { id } = await queue
 *   .batch({ callback: { worker: importDone, args: { importId } } })
 *   .addMany(importRow, rows.map((row) => ({ importId, row })))
 *   .insert();
 * ```
 */
export class Batch {
  readonly #insert: BatchInserter;
  readonly #options: BatchOptions<never, never>;
  readonly #jobs: PendingStep[] = [];

  /** @internal Made by `queue.batch()`. */
  constructor(insert: BatchInserter, options: BatchOptions<never, never>) {
    this.#insert = insert;
    this.#options = options;
  }

  /** The number of jobs added so far. */
  get size(): number {
    return this.#jobs.length;
  }

  /** Adds one job; its args and options are checked at `insert`. */
  add<Args, Input = Args>(
    worker: Worker<Args, Input> | CleanupTarget | string,
    args: NoInfer<Input>,
    options?: StepInsertOptions,
  ): this {
    if (options && "dependsOn" in options) {
      throw new InsertError(
        "batch: its jobs do not wait for each other (no dependsOn); a workflow with a callback does: queue.workflow({ callback })",
      );
    }
    const name = String(this.#jobs.length);
    this.#jobs.push({ name, worker: worker as AnyWorker, args, options, deps: [] });
    return this;
  }

  /** Adds a job of `worker` for each args. */
  addMany<Args, Input = Args>(
    worker: Worker<Args, Input> | CleanupTarget | string,
    argsList: readonly NoInfer<Input>[],
    options?: StepInsertOptions,
  ): this {
    if (!Array.isArray(argsList)) throw new InsertError("batch: addMany takes an array of args");
    for (const args of argsList) this.add(worker, args, options);
    return this;
  }

  /**
   * Inserts the batch's row and every job in one statement, all or nothing. A batch of no jobs
   * gets its callback at once.
   */
  async insert(options: WorkflowInsertOptions = {}): Promise<InsertedBatch> {
    const { jobs, batchId } = await this.#insert(this.#jobs, this.#options, options.tx);
    return { id: batchId as string, jobs };
  }
}
