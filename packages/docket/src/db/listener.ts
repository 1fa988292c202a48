import { randomUUID } from "node:crypto";
import type { Sql } from "postgres";

/** Pings start with a space-separated word: no queue name or JSON message can look like one. */
const pingPrefix = "docket ping ";

/** How often a subscription checks itself by default. */
export const listenerCheckMs = 5_000;

/**
 * postgres.js keeps a channel whose re-LISTEN failed in its table, holding the rejected LISTEN,
 * and every later `listen()` of that channel awaits that same rejection: the channel can never
 * be listened to again. Dropping the entry makes the next `listen()` send a fresh LISTEN. (The
 * table is postgres.js's own, `sql.listen.channels`; if a version lacks it, nothing happens.)
 */
function forgetChannel(sql: Sql, channel: string): void {
  const channels = (sql.listen as unknown as { channels?: Record<string, unknown> }).channels;
  if (channels && typeof channels === "object") delete channels[channel];
}

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

/**
 * LISTENs on a channel and keeps listening. postgres.js subscribes again after its listening
 * connection drops, but gives up silently when that one attempt fails (the server is still
 * restarting, the new connection is terminated too) and then refuses the channel for good (see
 * {@link forgetChannel}); a pooler in transaction mode can drop a LISTEN without closing
 * anything. So the listener sends itself a ping every interval;
 * when a ping does not come back, it subscribes again and calls `onListen` so the caller can
 * catch up on what it missed. Polling covers the gap meanwhile.
 */
export async function listenReliably(
  sql: Sql,
  channel: string,
  onMessage: (payload: string) => void,
  options: ListenOptions,
): Promise<{ unlisten: () => Promise<void> }> {
  let token = "";
  let waiting = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const deliver = (payload: string) => {
    if (!payload.startsWith(pingPrefix)) onMessage(payload);
    else if (payload === token) waiting = false;
  };
  const subscribe = async () => sql.listen(channel, deliver, () => options.onListen?.());
  let subscription = await subscribe();

  const check = async () => {
    try {
      if (waiting) {
        // The last ping never came back: the subscription is gone. Each step is bounded: on a
        // connection that is being replaced a query can wait a long time, and the check must
        // come round again.
        await within(subscription.unlisten(), options.checkIntervalMs).catch(() => {});
        forgetChannel(sql, channel);
        subscription = await within(subscribe(), options.checkIntervalMs * 2);
      }
      token = `${pingPrefix}${randomUUID()}`;
      waiting = true;
      await sql.notify(channel, token);
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
    unlisten: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await subscription.unlisten();
    },
  };
}
