import type { Sql } from "postgres";
import { z } from "zod";
import { createPool } from "./connection.js";
import { ListenConnection, type Listener, pollOnly } from "./listen-connection.js";

const isSql = (value: unknown): value is Sql =>
  typeof value === "function" && typeof (value as Partial<Sql>).listen === "function";

const url = z.string().min(1, "must not be empty");

/**
 * `connection`: a URL, an existing postgres.js `sql`, or `{ url, prepare, max }` for a pool of
 * docket's own with its settings (`prepare: false` behind a pooler in transaction mode; `max`
 * in place of `poolSize`).
 */
export const connectionOptionSchema = z.union([
  url,
  z.custom<Sql>(isSql, "must be a postgres:// URL or a postgres.js sql instance"),
  z
    .object({
      url,
      /** Prepared statements; turn off behind PgBouncer < 1.21 in transaction mode. */
      prepare: z.boolean().default(true),
      /** Connections of docket's pool (defaults to `poolSize`). */
      max: z.number().int().min(2).max(1000).optional(),
    })
    .strict(),
]);

/**
 * `listen`: where docket LISTENs for inserts, control messages and leadership changes. `true`
 * (default) on a session connection of its own made like `connection`; `false` nowhere (the
 * queues poll); a URL or a postgres.js `sql` of a direct session connection, for when
 * `connection` goes through a pooler in transaction mode.
 */
export const listenOptionSchema = z
  .custom<boolean | string | Sql>(
    (value) =>
      typeof value === "boolean" || (typeof value === "string" && value.length > 0) || isSql(value),
    "must be true, false, a postgres:// URL or a postgres.js sql instance (see docs/poolers.md)",
  )
  .default(true);

export type ConnectionOption = z.output<typeof connectionOptionSchema>;
export type ListenOption = z.output<typeof listenOptionSchema>;

/**
 * The pool a queue runs on, and whether docket made it (and so ends it).
 *
 * @example
 * ```ts
 * const { sql, owned } = openPool({ url, prepare: false, max: 10 }, 10);
 * ```
 */
export function openPool(
  connection: ConnectionOption,
  poolSize: number,
  parameters: Record<string, string> = {},
): { sql: Sql; owned: boolean } {
  if (typeof connection === "string") {
    return { sql: createPool(connection, poolSize, { parameters }), owned: true };
  }
  if (isSql(connection)) return { sql: connection, owned: false };
  const sql = createPool(connection.url, connection.max ?? poolSize, {
    prepare: connection.prepare,
    // A pooler refuses startup parameters it does not know (PgBouncer: statement_timeout and
    // the like); behind one, set them on the role instead (docs/poolers.md).
    parameters: connection.prepare === false ? {} : parameters,
  });
  return { sql, owned: true };
}

/**
 * The queue's {@link Listener}: docket's own LISTEN connection, or none for `listen: false`.
 *
 * @example
 * ```ts
 * const listener = openListener(directUrl, { url: pooledUrl, prepare: false }, pool);
 * ```
 */
export function openListener(
  listen: ListenOption,
  connection: ConnectionOption,
  pool: Sql,
): Listener {
  if (listen === false) return pollOnly;
  if (listen !== true) return new ListenConnection(listen, pool);
  if (typeof connection === "string" || isSql(connection)) {
    return new ListenConnection(connection, pool);
  }
  return new ListenConnection(connection.url, pool);
}
