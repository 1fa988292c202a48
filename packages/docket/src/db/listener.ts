import { randomUUID } from "node:crypto";
import { PoolerError } from "../errors.js";
import type { Listener } from "./listen-connection.js";

/** Pings start with a space-separated word: no queue name or JSON message can look like one. */
const pingPrefix = "docket ping ";

/** How often a subscription checks itself by default. */
export const listenerCheckMs = 5_000;

/** Resolves or rejects as `promise` does, or rejects after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Options of {@link listenReliably}. */
export interface ListenOptions {
  /** How often the subscription is checked with a ping of its own. */
  checkIntervalMs: number;
  /** Called on every (re)subscription: messages sent while unsubscribed are lost, so catch up. */
  onListen?: () => void;
  /** Trouble while checking or subscribing again; the listener carries on. */
  onError: (error: unknown) => void;
}

/** The error for a LISTEN that does not hear its own NOTIFY. */
function deafError(channel: string, ms: number): PoolerError {
  return new PoolerError(
    "listen",
    `LISTEN on channel "${channel}" did not hear its own NOTIFY within ${ms}ms: a pooler in ` +
      "transaction mode (PgBouncer, RDS Proxy, Supabase's pooler) does not keep a LISTEN; set " +
      "listen to a direct connection URL (or to false to poll only) (see docs/poolers.md)",
  );
}

/**
 * LISTENs on a channel and keeps listening. The subscription sends itself a ping every
 * interval: a first one at once, which must come back within the interval (else this throws a
 * {@link PoolerError} naming the `listen` option: the LISTEN goes through a pooler that drops
 * it), then one per interval; when one does not come back, the listener reports the same error
 * once, replaces its LISTEN connection and calls `onListen` so the caller can catch up on what
 * it missed. Polling covers the gap meanwhile. With `listen: false` nothing is LISTENed.
 */
export async function listenReliably(
  listener: Listener,
  channel: string,
  onMessage: (payload: string) => void,
  options: ListenOptions,
): Promise<{ unlisten: () => Promise<void>; hearing: () => boolean }> {
  if (!listener.enabled) return { unlisten: async () => {}, hearing: () => true };
  let token = "";
  let heard: (() => void) | undefined;
  let waiting = false;
  let reported = false;
  let stopped = false;
  let generation = listener.generation;
  let timer: NodeJS.Timeout | undefined;
  const deliver = (payload: string) => {
    if (!payload.startsWith(pingPrefix)) onMessage(payload);
    else if (payload === token) {
      waiting = false;
      reported = false;
      heard?.();
    }
  };
  const ping = async () => {
    token = `${pingPrefix}${randomUUID()}`;
    waiting = true;
    generation = listener.generation;
    await listener.notify(channel, token);
  };
  const subscription = await listener.listen(channel, deliver, () => options.onListen?.());
  try {
    const first = new Promise<void>((resolve) => {
      heard = resolve;
    });
    await ping();
    await within(first, options.checkIntervalMs).catch(() => {
      throw deafError(channel, options.checkIntervalMs);
    });
  } catch (error) {
    await within(subscription.unlisten(), options.checkIntervalMs).catch(() => {});
    throw error;
  } finally {
    heard = undefined;
  }

  const check = async () => {
    try {
      if (waiting) {
        // The last ping never came back: the LISTEN is gone or never worked. Each step is
        // bounded: on a connection that is being replaced a query can wait a long time.
        if (!reported) options.onError(deafError(channel, options.checkIntervalMs));
        reported = true;
        await within(listener.renew(generation), options.checkIntervalMs * 2);
      }
      await ping();
    } catch (error) {
      options.onError(error);
    } finally {
      if (!stopped) schedule();
    }
  };
  const schedule = () => {
    timer = setTimeout(() => void check(), options.checkIntervalMs);
    timer.unref?.();
  };
  schedule();

  return {
    /** False from a ping that did not come back in time until one does again. */
    hearing: () => !reported,
    unlisten: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await subscription.unlisten();
    },
  };
}
