import postgres, { type Sql } from "postgres";
import { ConfigError } from "../errors.js";

/**
 * Seconds to wait before reconnecting after `retries` failed attempts. postgres.js's default
 * grows to 20 s, so a node that saw a few refused connections while the server restarted
 * stays idle long after the server is back; a queue should be back within a second.
 */
export function reconnectDelay(retries: number): number {
  return Math.min(1, 0.05 * 2 ** retries) * (0.5 + Math.random() / 2);
}

/**
 * docket's own connection pool, made from a URL. Notices are silenced (docket writes nothing to
 * the console), connections are labelled `docket` in `pg_stat_activity`, and reconnects are
 * retried at least every second.
 */
export function createPool(
  url: string,
  max: number,
  options: { prepare?: boolean; parameters?: Record<string, string> } = {},
): Sql {
  try {
    return openPostgres(url, max, options);
  } catch (error) {
    // postgres.js parses the URL with `new URL`: its TypeError says neither what nor where.
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      `connection: not a valid PostgreSQL connection string (${reason}); expected postgres://user:password@host:port/database, with special characters in the password percent-encoded`,
      { path: "connection", cause: error },
    );
  }
}

function openPostgres(
  url: string,
  max: number,
  options: { prepare?: boolean; parameters?: Record<string, string> },
): Sql {
  return postgres(url, {
    max,
    // Off behind a pooler in transaction mode, where a prepared statement may be on another
    // server connection by the next transaction (see docs/poolers.md).
    prepare: options.prepare ?? true,
    onnotice: () => {},
    backoff: reconnectDelay,
    // A connection attempt that hangs (a server half up, a dropped SYN) fails fast and is retried.
    connect_timeout: 10,
    connection: { application_name: "docket", ...options.parameters },
    // TCP keepalive probes after 5 s of silence (postgres.js's default is 60 s).
    keep_alive: 5,
  });
}

const settled = new WeakSet<Sql>();

/**
 * postgres.js fetches the server's array types on every new connection, in a promise nobody
 * awaits: when the server goes away during that fetch (a restart, a failover) the rejection is
 * unhandled and takes the whole process down. The types are the same for the life of the
 * server, so once a first query has loaded them into the pool's shared parsers, later
 * connections skip the fetch. Only for pools docket made itself; a caller's `sql` is left as is.
 */
export async function settleArrayTypes(sql: Sql): Promise<void> {
  if (settled.has(sql)) return;
  await sql`SELECT 1`;
  (sql.options as { fetch_types: boolean }).fetch_types = false;
  settled.add(sql);
}
