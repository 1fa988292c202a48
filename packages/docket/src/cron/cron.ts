import type { InsertOptions } from "../insert/insert-options.js";
import { LeaderService } from "../maintenance/leader-service.js";
import type { MaintenanceTarget, PluginContext } from "../maintenance/plugin.js";
import { run } from "../sql/executor.js";
import {
  claimCronSlot,
  deleteOldCronSlots,
  registerCronEntries,
  selectCronState,
  setCronSlotJob,
} from "../sql/maintenance/cron.js";
import type { Job } from "../types.js";
import { CronSchedule } from "./cron-expression.js";
import type { CronInsertion } from "./cron-insertion.js";
import type { ParsedCronEntry } from "./cron-options.js";

/** Inserts one job; the queue's own `insert`, so that args checks and unique options apply. */
export type CronInsertFn = (
  worker: string,
  args: Record<string, unknown>,
  options: InsertOptions,
) => Promise<Job>;

/** What one cron run did. */
export interface CronRunResult {
  inserted: CronInsertion[];
  /** The database's time when the run looked. */
  now: Date;
  /** The earliest slot still to come, of any entry. */
  nextSlotAt: Date | undefined;
}

/** At most this many missed slots of one entry are inserted with `catchUp: "all"`. */
const maxCatchUp = 1000;
/** Slots are remembered this long; the entries' `last_slot` carries on after that. */
const keepSlotsMs = 7 * 86_400_000;
/** The leader looks at least this often, whatever the entries say (clock changes, new entries). */
const maxSleepMs = 60_000;

/**
 * The scheduler of the `cron` option: on the leader only, it inserts each entry's job once per
 * slot. The database decides which node's insert counts: claiming a slot moves the entry's
 * `last_slot` forward and adds the unique `(entry, slot)` row in the transaction that inserts the
 * job, so one job per slot is all that can commit, whichever node leads and however often the
 * leadership changes. Slots are reckoned on the database's clock, so app servers may disagree
 * about the time.
 *
 * A new entry starts with the first slot after it was registered. Slots that came due while no
 * node led are not all run: only the latest of them (`catchUp: "latest"`, the default), or each
 * of them with `catchUp: "all"`.
 *
 * @example
 * ```ts
 * new Queue({ connection, workers: [report], cron: [{ expression: "0 * * * *", worker: "reports.hourly" }] });
 * ```
 */
export class Cron extends LeaderService<CronRunResult> {
  readonly name = "cron";
  readonly entries: readonly ParsedCronEntry[];
  readonly #schedules = new Map<string, CronSchedule>();
  readonly #insert: CronInsertFn;
  #prunedAt = 0;

  /** Entries must have been checked by the options schema (expression and time zone). */
  constructor(entries: readonly ParsedCronEntry[], insert: CronInsertFn) {
    super();
    this.entries = Object.freeze([...entries]);
    this.#insert = insert;
    for (const entry of entries) {
      this.#schedules.set(entry.name, new CronSchedule(entry.expression, entry.timezone));
    }
  }

  /** Follows the leadership: runs while this node leads (if it has entries at all). */
  override start(context: PluginContext): void {
    if (this.entries.length > 0) super.start(context);
  }

  protected loopOptions(context: PluginContext) {
    return {
      intervalMs: 1000, // after a failed run
      onResult: (result: CronRunResult) => {
        for (const insertion of result.inserted) {
          if (insertion.missed > 0) {
            context.logger.warn("docket cron skipped missed slots", {
              entry: insertion.entry,
              missed: insertion.missed,
            });
          }
          context.emit("cron:insert", insertion);
        }
      },
      nextDelayMs: (result: CronRunResult) => {
        if (!result.nextSlotAt) return maxSleepMs;
        // Slots are on the database's clock: sleep for the distance between them, plus a margin.
        const wait = result.nextSlotAt.getTime() - result.now.getTime() + 5;
        return Math.min(maxSleepMs, Math.max(10, wait));
      },
    };
  }

  /**
   * Inserts the due slots of every entry once. Uses the started queue's database unless
   * `target` is given; safe to call on any node at any time (a slot is claimed once).
   */
  async runOnce(given?: MaintenanceTarget): Promise<CronRunResult> {
    const target = this.targetOf(given);
    const { executor, schema } = target;
    await run(
      executor,
      registerCronEntries(
        schema,
        [...this.#schedules].map(([name, s]) => ({
          name,
          expression: s.expression,
          timezone: s.timezone,
        })),
      ),
    );
    const states = await run(executor, selectCronState(schema, [...this.#schedules.keys()]));
    const inserted: CronInsertion[] = [];
    let now = new Date();
    for (const state of states) {
      now = state.now;
      const entry = this.entries.find((e) => e.name === state.name);
      const schedule = this.#schedules.get(state.name);
      if (!entry || !schedule) continue;
      const after = state.last_slot ?? state.created_at;
      const slots = this.#dueSlots(entry, schedule, after, state.now);
      for (const [index, slot] of slots.entries()) {
        const missed = index === 0 ? this.#missedBefore(schedule, after, slot, entry.catchUp) : 0;
        const job = await this.#claim(target, entry, slot);
        if (job) inserted.push({ entry: entry.name, slot, job, missed });
      }
    }
    if (Date.now() - this.#prunedAt > 3_600_000) {
      await run(executor, deleteOldCronSlots(schema, keepSlotsMs));
      this.#prunedAt = Date.now();
    }
    let nextSlotAt: Date | undefined;
    for (const schedule of this.#schedules.values()) {
      const next = schedule.next(now);
      if (next && (!nextSlotAt || next < nextSlotAt)) nextSlotAt = next;
    }
    return { inserted, now, nextSlotAt };
  }

  #dueSlots(entry: ParsedCronEntry, schedule: CronSchedule, after: Date, now: Date): Date[] {
    if (entry.catchUp === "all") return schedule.between(after, now, maxCatchUp);
    const latest = schedule.latest(now);
    return latest && latest > after ? [latest] : [];
  }

  #missedBefore(
    schedule: CronSchedule,
    after: Date,
    slot: Date,
    mode: ParsedCronEntry["catchUp"],
  ): number {
    if (mode === "all") return 0;
    const first = schedule.next(after);
    if (!first || first >= slot) return 0;
    return schedule.between(after, new Date(slot.getTime() - 1), maxCatchUp).length;
  }

  /** Claims a slot and inserts its job in one transaction; undefined if the slot was taken. */
  async #claim(
    target: MaintenanceTarget,
    entry: ParsedCronEntry,
    slot: Date,
  ): Promise<Job | undefined> {
    const { executor, schema } = target;
    const options: InsertOptions = {
      scheduledAt: slot,
      meta: { ...entry.meta, cron: { name: entry.name, slot: slot.toISOString() } },
    };
    if (entry.queue !== undefined) options.queue = entry.queue;
    if (entry.priority !== undefined) options.priority = entry.priority;
    if (entry.maxAttempts !== undefined) options.maxAttempts = entry.maxAttempts;
    if (entry.tags !== undefined) options.tags = entry.tags;
    const job = await executor.begin(async (tx) => {
      const [claimed] = await run(tx, claimCronSlot(schema, entry.name, slot));
      if (!claimed) return undefined;
      const job = await this.#insert(entry.worker, entry.args, { ...options, tx });
      await run(tx, setCronSlotJob(schema, entry.name, slot, job.id));
      return job;
    });
    return job as Job | undefined;
  }
}
