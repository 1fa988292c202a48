import { QueueStateError } from "../errors.js";
import { LeaderLoop, type LeaderLoopOptions } from "./leader-loop.js";
import type { MaintenanceTarget, Plugin, PluginContext } from "./plugin.js";

/**
 * A maintenance service that runs its `runOnce()` on the leader through a {@link LeaderLoop}:
 * the shape of the pruner, the lifeline and cron. A subclass says how often, and what each
 * result is reported as; `runOnce()` can also be called by hand with a target.
 */
export abstract class LeaderService<R> implements Plugin {
  abstract readonly name: string;
  #context: PluginContext | undefined;
  #loop: LeaderLoop<R> | undefined;

  /** Runs once, on the started node's database unless `target` is given. */
  abstract runOnce(target?: MaintenanceTarget): Promise<R>;

  /** How the loop runs on `context`: its interval and what it does with each result. */
  protected abstract loopOptions(
    context: PluginContext,
  ): Omit<LeaderLoopOptions<R>, "name" | "run"> & { run?: () => Promise<R> };

  /** Starts the loop: it runs on the leader only. */
  start(context: PluginContext): void {
    this.#context = context;
    this.#loop = new LeaderLoop(context, {
      run: () => this.runOnce(context),
      ...this.loopOptions(context),
      name: this.name,
    });
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
    this.#loop = undefined;
  }

  /** `target`, else the started node's database. */
  protected targetOf(target: MaintenanceTarget | undefined): MaintenanceTarget {
    const chosen = target ?? this.#context;
    if (!chosen) {
      throw new QueueStateError(`${this.name}.runOnce(): not started, and no target given`);
    }
    return chosen;
  }
}
