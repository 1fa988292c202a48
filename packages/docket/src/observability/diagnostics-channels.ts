import { type Channel, channel } from "node:diagnostics_channel";
import type { QueueEvents } from "../events.js";

/**
 * The `node:diagnostics_channel` name of each queue event: `docket:` then the event's name
 * (`docket:job:complete`, `docket:maintenance:prune`…). An APM subscribes to these without a
 * docket plugin; each message is the event's payload plus `queue` (the emitting `Queue`).
 *
 * @example
 * ```ts
 * import diagnostics from "node:diagnostics_channel";
 * diagnostics.subscribe("docket:job:error", ({ job, error }) => report(job.worker, error));
 * ```
 */
export const diagnosticsChannelNames = {
  "jobs:insert": "docket:jobs:insert",
  "job:start": "docket:job:start",
  "job:complete": "docket:job:complete",
  "job:error": "docket:job:error",
  "job:discard": "docket:job:discard",
  "job:snooze": "docket:job:snooze",
  "job:cancel": "docket:job:cancel",
  "job:progress": "docket:job:progress",
  "queue:error": "docket:queue:error",
  "leader:change": "docket:leader:change",
  "maintenance:prune": "docket:maintenance:prune",
  "maintenance:rescue": "docket:maintenance:rescue",
  "maintenance:rollup": "docket:maintenance:rollup",
  "maintenance:run": "docket:maintenance:run",
  "cron:insert": "docket:cron:insert",
  "dashboard:action": "docket:dashboard:action",
} as const satisfies Record<keyof QueueEvents, `docket:${string}`>;

/** The channels, made once: `channel()` looks a name up in a global table. */
const channels = new Map<string, Channel>(
  Object.entries(diagnosticsChannelNames).map(([event, name]) => [event, channel(name)]),
);

/** Whether anything subscribes to the channel of `event` (cheap: a field read). */
export function channelHasSubscribers(event: string): boolean {
  return channels.get(event)?.hasSubscribers === true;
}

/** Publishes `payload` with `queue` on the channel of `event`, if anything subscribes. */
export function publishToChannel(event: string, queue: object, payload: unknown): void {
  const target = channels.get(event);
  if (target === undefined || !target.hasSubscribers) return;
  target.publish(
    typeof payload === "object" && payload !== null ? { ...payload, queue } : { payload, queue },
  );
}
