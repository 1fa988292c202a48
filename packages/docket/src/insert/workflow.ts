import type { CleanupTarget } from "../cleanup/define-target.js";
import type { Transaction } from "../db/transaction-adapters.js";
import { InsertError } from "../errors.js";
import type { Job } from "../types.js";
import type { AnyWorker, Worker } from "../workers/define-worker.js";
import type { PendingStep, StepInsertOptions } from "./graph-insert.js";

/** Options of one step of a {@link Workflow}. */
export interface StepOptions extends StepInsertOptions {
  /** Names of the steps this one waits for (added before or after it, in this workflow). */
  dependsOn?: readonly string[];
}

/** Options of {@link Workflow.insert}. */
export interface WorkflowInsertOptions {
  /** Insert inside this transaction (any client of docs/clients.md). */
  tx?: Transaction;
}

/** What a workflow's insert does with its steps; given by the queue. */
export type StepsInserter = (
  steps: PendingStep[],
  tx: WorkflowInsertOptions["tx"],
) => Promise<Job[]>;

interface Added {
  name: string;
  worker: AnyWorker | CleanupTarget | string;
  args: unknown;
  options: StepOptions | undefined;
}

/**
 * A graph of jobs inserted at once, in one statement: steps have names, and a step lists the
 * names of the steps it waits for, so fan-outs, fan-ins and chains are built before any job has
 * an id. Made by `queue.workflow()`. A graph with a cycle, an unknown step or a repeated name is
 * refused by `insert` with `InsertError`, nothing written.
 *
 * @example
 * ```ts
 * const flow = queue.workflow().add("fetch", fetchFeed, { url });
 * for (const [i, chunk] of chunks.entries())
 *   flow.add(`row-${i}`, importRows, { chunk }, { dependsOn: ["fetch"] });
 * flow.add("summary", sendSummary, { url }, { dependsOn: chunks.map((_, i) => `row-${i}`) });
 * const jobs = await flow.insert(); // Map: step name -> Job
 * ```
 */
export class Workflow {
  readonly #insert: StepsInserter;
  readonly #steps: Added[] = [];

  /** @internal Made by `queue.workflow()`. */
  constructor(insert: StepsInserter) {
    this.#insert = insert;
  }

  /** The number of steps added so far. */
  get size(): number {
    return this.#steps.length;
  }

  /**
   * Adds a step: one job of `worker` with `args`, named `name` within this workflow. Args and
   * options are checked at `insert`.
   */
  add<Args, Input = Args>(
    name: string,
    worker: Worker<Args, Input> | CleanupTarget | string,
    args: NoInfer<Input>,
    options?: StepOptions,
  ): this {
    this.#steps.push({ name, worker: worker as Added["worker"], args, options });
    return this;
  }

  /**
   * Checks the graph and inserts every step in one statement: roots are available at once, the
   * others wait for their dependencies as with `dependsOn`. Resolves with the jobs by step name.
   */
  async insert(options: WorkflowInsertOptions = {}): Promise<Map<string, Job>> {
    const steps = resolveGraph(this.#steps);
    const jobs = await this.#insert(steps, options.tx);
    return new Map(steps.map((step, i) => [step.name, jobs[i] as Job]));
  }
}

/**
 * Resolves each step's dependencies from names to positions and refuses what cannot be a graph:
 * a name given twice, a dependency that names no step, a step that waits for itself, a cycle.
 */
function resolveGraph(added: readonly Added[]): PendingStep[] {
  const position = new Map<string, number>();
  for (const [i, step] of added.entries()) {
    if (typeof step.name !== "string" || step.name === "") {
      throw new InsertError(`workflow: step ${i + 1} needs a name (a non-empty string)`);
    }
    if (position.has(step.name))
      throw new InsertError(`workflow: two steps are named "${step.name}"`);
    position.set(step.name, i);
  }
  const steps = added.map((step): PendingStep => {
    const names = step.options?.dependsOn ?? [];
    if (!Array.isArray(names)) {
      throw new InsertError(
        `workflow: step "${step.name}": dependsOn must be an array of step names`,
      );
    }
    const deps = [...new Set(names)].map((name) => {
      const at = position.get(name as string);
      if (at === undefined) {
        throw new InsertError(
          `workflow: step "${step.name}" depends on "${String(name)}", which is no step of this workflow`,
        );
      }
      if (name === step.name)
        throw new InsertError(`workflow: step "${step.name}" depends on itself`);
      return at;
    });
    return { name: step.name, worker: step.worker, args: step.args, options: step.options, deps };
  });
  const cycle = findCycle(steps);
  if (cycle) {
    throw new InsertError(
      `workflow: steps ${cycle.map((n) => `"${n}"`).join(" → ")} form a cycle; a job cannot wait for itself`,
    );
  }
  return steps;
}

/** A cycle of the graph as step names (first repeated at the end), or null. Iterative DFS. */
function findCycle(steps: readonly PendingStep[]): string[] | null {
  const colour = new Uint8Array(steps.length); // 0 unseen, 1 on the path, 2 done
  for (let root = 0; root < steps.length; root++) {
    if (colour[root] !== 0) continue;
    const path: number[] = [root];
    const next: number[] = [0];
    colour[root] = 1;
    while (path.length > 0) {
      const at = path[path.length - 1] as number;
      const deps = (steps[at] as PendingStep).deps;
      const k = next[next.length - 1] as number;
      if (k >= deps.length) {
        colour[at] = 2;
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = k + 1;
      const dep = deps[k] as number;
      if (colour[dep] === 1) {
        const from = path.indexOf(dep);
        return [...path.slice(from), dep].map((i) => (steps[i] as PendingStep).name);
      }
      if (colour[dep] === 0) {
        colour[dep] = 1;
        path.push(dep);
        next.push(0);
      }
    }
  }
  return null;
}
