import type { JobFilter } from "../admin/admin.js";
import { ConfigError } from "../errors.js";
import { type JobState, jobStates } from "../types.js";

/**
 * The jobs page's filter as it travels in a URL (`?state=discarded&worker=email.send&
 * args=accountId%3D7`) and as the admin API takes it. `args` and `meta` conditions are
 * `key=value` pairs; a value that parses as JSON (`7`, `true`, `"x"`, `{…}`) is matched as that
 * JSON, anything else as a string.
 */
export interface PageFilter {
  state: JobState | undefined;
  queue: string | undefined;
  worker: string | undefined;
  tag: string | undefined;
  id: string | undefined;
  args: [string, string][];
  meta: [string, string][];
}

const maxPairs = 10;

function pairs(params: URLSearchParams, name: string): [string, string][] {
  const values = params.getAll(name).filter((v) => v.trim() !== "");
  if (values.length > maxPairs) {
    throw new ConfigError(`${name}: at most ${maxPairs} conditions`, { path: name });
  }
  return values.map((text) => {
    const at = text.indexOf("=");
    if (at <= 0) {
      throw new ConfigError(`${name}: ${JSON.stringify(text)} is not key=value`, { path: name });
    }
    return [text.slice(0, at).trim(), text.slice(at + 1).trim()];
  });
}

function one(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name)?.trim();
  return value ? value : undefined;
}

/** Reads the filter of a jobs URL or a posted form. */
export function readFilter(params: URLSearchParams): PageFilter {
  const state = one(params, "state");
  if (state !== undefined && !(jobStates as readonly string[]).includes(state)) {
    throw new ConfigError(`state: ${JSON.stringify(state)} is not a job state`, { path: "state" });
  }
  return {
    state: state as JobState | undefined,
    queue: one(params, "queue"),
    worker: one(params, "worker"),
    tag: one(params, "tag"),
    id: one(params, "id"),
    args: pairs(params, "args"),
    meta: pairs(params, "meta"),
  };
}

function jsonOrText(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function containment(entries: [string, string][]): Record<string, unknown> | undefined {
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([key, value]) => [key, jsonOrText(value)]));
}

/** The admin API's filter for a page filter. */
export function toJobFilter(filter: PageFilter): JobFilter {
  return {
    state: filter.state,
    queue: filter.queue,
    worker: filter.worker,
    tags: filter.tag === undefined ? undefined : [filter.tag],
    ids: filter.id === undefined ? undefined : [filter.id],
    args: containment(filter.args),
    meta: containment(filter.meta),
  };
}

/** Whether the filter selects anything narrower than every job. */
export function isEmptyFilter(filter: PageFilter): boolean {
  return (
    !filter.state &&
    !filter.queue &&
    !filter.worker &&
    !filter.tag &&
    !filter.id &&
    filter.args.length === 0 &&
    filter.meta.length === 0
  );
}

/** The filter as query parameters, with `changes` applied (undefined removes a key). */
export function filterParams(
  filter: PageFilter,
  changes: Partial<Record<"state" | "after", string | undefined>> = {},
): URLSearchParams {
  const params = new URLSearchParams();
  const state = "state" in changes ? changes.state : filter.state;
  if (state) params.set("state", state);
  for (const key of ["queue", "worker", "tag", "id"] as const) {
    const value = filter[key];
    if (value) params.set(key, value);
  }
  for (const [key, value] of filter.args) params.append("args", `${key}=${value}`);
  for (const [key, value] of filter.meta) params.append("meta", `${key}=${value}`);
  if (changes.after) params.set("after", changes.after);
  return params;
}

/** A short human description: `state = discarded, worker = email.send`. */
export function describeFilter(filter: PageFilter): string {
  const parts: string[] = [];
  if (filter.state) parts.push(`state = ${filter.state}`);
  if (filter.queue) parts.push(`queue = ${filter.queue}`);
  if (filter.worker) parts.push(`worker = ${filter.worker}`);
  if (filter.tag) parts.push(`tag = ${filter.tag}`);
  if (filter.id) parts.push(`id = ${filter.id}`);
  for (const [k, v] of filter.args) parts.push(`args.${k} = ${v}`);
  for (const [k, v] of filter.meta) parts.push(`meta.${k} = ${v}`);
  return parts.length === 0 ? "every job" : parts.join(", ");
}

/**
 * The admin API's filter from URL-style parameters (`state`, `queue`, `worker`, `tag`, `id`,
 * `args=key=value`, `meta=key=value`): the jobs page's filters, for other front ends (the CLI).
 *
 * @example
 * ```ts
 * const filter = jobFilterFromParams(new URLSearchParams("state=discarded&args=accountId%3D7"));
 * const { jobs } = await queue.listJobs(filter);
 * ```
 */
export function jobFilterFromParams(params: URLSearchParams): JobFilter {
  return toJobFilter(readFilter(params));
}
