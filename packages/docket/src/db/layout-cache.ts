import type { Sql } from "postgres";
import { type JobsLayout, readLayout } from "./partitioned-layout.js";

const cache = new WeakMap<Sql, Map<string, Promise<JobsLayout>>>();

/**
 * The layout of `schema`'s jobs table as `pool` last read it (one query per pool and schema).
 * A schema without a jobs table reads as plain, so that its statements fail with the usual
 * "not migrated" error. Call {@link forgetLayout} when a statement shows the layout changed.
 */
export function jobsLayoutOf(pool: Sql, schema: string): Promise<JobsLayout> {
  const bySchema = cache.get(pool) ?? new Map<string, Promise<JobsLayout>>();
  cache.set(pool, bySchema);
  let layout = bySchema.get(schema);
  if (!layout) {
    layout = readLayout(pool, schema).then((found) => found ?? "plain");
    layout.catch(() => bySchema.delete(schema));
    bySchema.set(schema, layout);
  }
  return layout;
}

/** Drops the cached layout, for a schema partitioned while this pool was in use. */
export function forgetLayout(pool: Sql, schema: string): void {
  cache.get(pool)?.delete(schema);
}
