import postgres, { type Sql } from "postgres";
import { reconnectDelay } from "./connection.js";

/**
 * Where LISTEN runs: docket's own session connection, or nowhere (poll only).
 *
 * @example
 * ```ts
 * const { unlisten } = await listener.listen("docket_insert", (queue) => wake(queue), catchUp);
 * ```
 */
export interface Listener {
  /** False for `listen: false`: nothing is LISTENed and polling alone finds the work. */
  readonly enabled: boolean;
  /** LISTENs on `channel`; `onListen` runs after every (re)subscription. */
  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onListen: () => void,
  ): Promise<{ unlisten: () => Promise<void> }>;
  /** Sends a NOTIFY through the queue's pool (a pooler passes NOTIFY on, it is transactional). */
  notify(channel: string, payload: string): Promise<void>;
  /** How many times the connection was replaced; {@link renew} takes the count it saw. */
  readonly generation: number;
  /**
   * Replaces the LISTEN connection (unless it was replaced since `generation`) and LISTENs
   * again on every channel: how a subscription that stopped hearing its pings recovers.
   */
  renew(generation: number): Promise<void>;
  /** Closes the LISTEN connection. */
  end(): Promise<void>;
}

/**
 * Where the session connection for LISTEN comes from: a URL, or the options of a `sql`.
 *
 * @example
 * ```ts
 * const source: ListenSource = process.env.DIRECT_URL ?? sql;
 * ```
 */
export type ListenSource = string | Sql;

interface Channel {
  handlers: Set<{ onMessage: (payload: string) => void; onListen: () => void }>;
}

/**
 * A LISTEN connection of docket's own: one postgres.js connection (max 1, never recycled) that
 * holds every LISTEN of the queue, apart from the pool that runs statements, so that the pool
 * may go through a pooler in transaction mode. Made from a URL or from a `sql`'s options (the
 * caller's `sql` itself is left alone). When it closes, it LISTENs again on the next connection;
 * when it is wedged, {@link renew} replaces it.
 *
 * @example
 * ```ts
 * const listener = new ListenConnection(directUrl, pool);
 * await listenReliably(listener, "docket_insert", wake, { checkIntervalMs: 5000, onError });
 * ```
 */
export class ListenConnection implements Listener {
  readonly enabled = true;
  readonly #source: ListenSource;
  readonly #notifier: Sql;
  readonly #channels = new Map<string, Channel>();
  #sql: Sql | undefined;
  #generation = 0;
  #ended = false;

  /**
   * @param source the session connection to LISTEN on (URL, or a `sql` whose options to copy)
   * @param notifier the queue's pool, which sends the NOTIFY pings
   */
  constructor(source: ListenSource, notifier: Sql) {
    this.#source = source;
    this.#notifier = notifier;
  }

  get generation(): number {
    return this.#generation;
  }

  async listen(
    channel: string,
    onMessage: (payload: string) => void,
    onListen: () => void,
  ): Promise<{ unlisten: () => Promise<void> }> {
    const handler = { onMessage, onListen };
    let entry = this.#channels.get(channel);
    if (!entry) {
      entry = { handlers: new Set() };
      this.#channels.set(channel, entry);
    }
    entry.handlers.add(handler);
    try {
      const sql = this.#connection();
      await sql`LISTEN ${sql(channel)}`;
    } catch (error) {
      entry.handlers.delete(handler);
      throw error;
    }
    onListen();
    return {
      unlisten: async () => {
        const current = this.#channels.get(channel);
        if (!current?.handlers.delete(handler) || current.handlers.size > 0) return;
        this.#channels.delete(channel);
        if (this.#sql && !this.#ended) {
          const sql = this.#sql;
          await sql`UNLISTEN ${sql(channel)}`;
        }
      },
    };
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.#notifier.notify(channel, payload);
  }

  async renew(generation: number): Promise<void> {
    if (generation !== this.#generation || this.#ended) return;
    const old = this.#sql;
    this.#sql = undefined;
    this.#generation++;
    void old?.end({ timeout: 0 }).catch(() => {});
    await this.#listenAgain();
  }

  async end(): Promise<void> {
    this.#ended = true;
    await this.#sql?.end({ timeout: 1 });
  }

  #connection(): Sql {
    if (this.#ended) throw new Error("the LISTEN connection is closed");
    if (this.#sql) return this.#sql;
    const generation = this.#generation;
    const options = {
      max: 1,
      // A LISTEN lives as long as its session: never close it for being idle or old.
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      prepare: false,
      backoff: reconnectDelay,
      connect_timeout: 10,
      onnotice: () => {},
      connection: { application_name: "docket listen" },
      onnotify: (channel: string, payload: string) => {
        for (const handler of this.#channels.get(channel)?.handlers ?? []) {
          handler.onMessage(payload);
        }
      },
      // The session (and its LISTENs) is gone: LISTEN again on the next connection.
      onclose: () => {
        if (generation === this.#generation && !this.#ended) void this.#listenAgain();
      },
    };
    const source = this.#source;
    // (postgres.js's types lack the null that turns the idle and lifetime timers off.)
    this.#sql =
      typeof source === "string"
        ? postgres(source, options as never)
        : postgres({ ...(source.options as object), ...options } as never);
    return this.#sql;
  }

  /** LISTENs on every channel on the current connection, then lets each catch up. */
  async #listenAgain(): Promise<void> {
    if (this.#ended) return;
    try {
      const sql = this.#connection();
      for (const channel of this.#channels.keys()) await sql`LISTEN ${sql(channel)}`;
    } catch {
      // The server is still away: the subscriptions' pings notice and renew again.
      return;
    }
    for (const { handlers } of this.#channels.values()) {
      for (const handler of handlers) handler.onListen();
    }
  }
}

/**
 * `listen: false`: no LISTEN anywhere; the queues poll.
 *
 * @example
 * ```ts
 * const listener = options.listen === false ? pollOnly : new ListenConnection(url, pool);
 * ```
 */
export const pollOnly: Listener = {
  enabled: false,
  generation: 0,
  listen: async () => ({ unlisten: async () => {} }),
  notify: async () => {},
  renew: async () => {},
  end: async () => {},
};
