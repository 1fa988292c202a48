import type { Sql } from "postgres";
import type { Listener } from "../db/listen-connection.js";
import { listenerCheckMs, listenReliably } from "../db/listener.js";
import { run } from "../sql/executor.js";
import {
  claimLeadership,
  leadershipChannel,
  releaseLeadership,
} from "../sql/maintenance/leaders.js";
import { type LongTimer, setLongTimeout } from "../validation/long-timer.js";

/** The lease all docket nodes of one schema compete for. */
export const leaderName = "docket";

/** What a {@link LeaderElection} needs from its node. */
export interface LeaderElectionOptions {
  executor: Sql;
  /** Where LISTEN runs (see db/listen-connection.ts). */
  listener: Listener;
  schema: string;
  node: string;
  /** Lease length; the leader renews every third of it. */
  ttlMs: number;
  /** Called on every change, after `isLeader` has changed. */
  onChange: (isLeader: boolean) => void;
  onError: (error: unknown) => void;
}

/**
 * Competes for the leadership of a schema with a lease row in `leaders`. The leader renews its
 * lease every `ttl / 3`; a follower tries again every `ttl / 3`, and also right when the lease it
 * last saw expires, so that it takes over within one `ttl` of a leader's death. A leader that
 * cannot renew steps down before its lease can have expired (its own deadline starts when it
 * sent the renewal, which is before the database's clock started the lease). On `stop()` the
 * lease is deleted and a NOTIFY tells the followers, which then take over at once.
 */
export class LeaderElection {
  readonly #options: LeaderElectionOptions;
  #isLeader = false;
  #started = false;
  #stopped = false;
  #timer: LongTimer | undefined;
  #stepDownTimer: LongTimer | undefined;
  #attempt: Promise<void> | undefined;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#options = options;
  }

  get isLeader(): boolean {
    return this.#isLeader;
  }

  /** Listens for resignations and makes the first attempt; resolves once it is done. */
  async start(): Promise<void> {
    const { schema } = this.#options;
    this.#started = true;
    try {
      const listener = await listenReliably(
        this.#options.listener,
        leadershipChannel(schema),
        () => this.#wake(),
        {
          checkIntervalMs: listenerCheckMs,
          onError: this.#options.onError,
        },
      );
      this.#unlisten = listener.unlisten;
    } catch (error) {
      this.#options.onError(error); // polling alone still elects a leader
    }
    await this.#runAttempt();
  }

  /** Gives up the lease at once (if held) and stops competing. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.clear();
    this.#setLeader(false);
    // A claim in flight is waited for (briefly: the database may be unreachable), so that the
    // release below comes after it.
    if (this.#attempt) await Promise.race([this.#attempt, delay(1000)]);
    const { executor, schema, node } = this.#options;
    await this.#unlisten?.().catch((error: unknown) => this.#options.onError(error));
    // Released whatever the last claim said: a claim whose reply was lost may still have won.
    if (this.#started) {
      await run(executor, releaseLeadership(schema, leaderName, node)).catch((error: unknown) =>
        this.#options.onError(error),
      );
    }
  }

  #wake(): void {
    if (this.#stopped || this.#isLeader || this.#attempt) return;
    this.#timer?.clear();
    void this.#runAttempt();
  }

  #runAttempt(): Promise<void> {
    this.#timer = undefined;
    this.#attempt = this.#claim().finally(() => {
      this.#attempt = undefined;
    });
    return this.#attempt;
  }

  async #claim(): Promise<void> {
    const { executor, schema, node, ttlMs } = this.#options;
    const renewMs = Math.max(100, Math.floor(ttlMs / 3));
    const sentAt = performance.now();
    let nextMs = renewMs;
    try {
      const [lease] = await run(executor, claimLeadership(schema, leaderName, node, ttlMs));
      // stop() came while the claim was in flight: it releases the lease once this ends.
      if (this.#stopped) return;
      if (lease?.elected) {
        // A reply that comes too late to act on is no leadership at all.
        if (this.#armStepDown(sentAt + ttlMs)) this.#setLeader(true);
      } else {
        this.#setLeader(false);
        // Try again right when the lease we saw runs out, unless the regular retry comes first.
        if (lease) nextMs = Math.min(renewMs, Math.max(0, lease.remaining_ms) + 25);
        else nextMs = Math.min(renewMs, 250); // lost a race to create the lease: look again soon
      }
    } catch (error) {
      // Still leader until our own deadline passes; the step-down timer handles that.
      this.#options.onError(error);
      nextMs = Math.min(renewMs, 1000);
    }
    if (!this.#stopped) {
      this.#timer = setLongTimeout(() => this.#runAttempt(), nextMs).unref();
    }
  }

  /**
   * Steps down at `deadline` (performance.now() time) unless a renewal moves it later. Returns
   * false, and steps down at once, if that moment has already passed.
   */
  #armStepDown(deadline: number): boolean {
    this.#stepDownTimer?.clear();
    // A margin so that this node stops acting as leader a little before anyone can take over.
    const delay = deadline - performance.now() - Math.min(500, this.#options.ttlMs / 10);
    if (delay <= 0) {
      this.#setLeader(false);
      return false;
    }
    this.#stepDownTimer = setLongTimeout(() => this.#setLeader(false), delay).unref();
    return true;
  }

  #setLeader(isLeader: boolean): void {
    if (!isLeader && this.#stepDownTimer) {
      this.#stepDownTimer.clear();
      this.#stepDownTimer = undefined;
    }
    if (isLeader === this.#isLeader) return;
    this.#isLeader = isLeader;
    this.#options.onChange(isLeader);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
