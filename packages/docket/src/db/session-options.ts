import { z } from "zod";
import { durationMs } from "../validation/duration.js";

/**
 * Time limits on docket's own statements, sent as session settings when docket opens a
 * connection from a URL (so they cost no round trip): `statement_timeout` and `lock_timeout`,
 * and PostgreSQL's TCP keepalive and `tcp_user_timeout` on the server's end of each connection,
 * so that the server drops the backend (and its locks) of a node it cannot reach.
 */

/** PostgreSQL stores these settings as a 32-bit count of milliseconds. */
const maxSettingMs = 2_147_483_647;

/** A limit in milliseconds, or `false` for none (PostgreSQL's 0). */
const limit = z.union([
  z.literal(false),
  durationMs({ min: 1 }).pipe(z.number().max(maxSettingMs)),
]);

/** The keys of `new Queue(options)` that limit docket's statements. */
export const sessionOptionsShape = {
  /**
   * The longest a docket statement may run before PostgreSQL cancels it (`statement_timeout`).
   * Migrations and the `DatabaseMaintenance` target's VACUUM / REINDEX lift it for themselves.
   */
  statementTimeout: limit.default(60_000),
  /**
   * The longest a docket statement waits for a lock held by someone else (`lock_timeout`), say
   * a `LOCK TABLE` or a long transaction of the application that holds job rows; the statement
   * then fails with SQLSTATE 55P03, which docket reports as a `queue:error` and retries.
   */
  lockTimeout: limit.default(5_000),
};

/** Parsed session limits, in milliseconds (`false`: none). */
export interface SessionLimits {
  statementTimeout: number | false;
  lockTimeout: number | false;
}

/** Seconds of silence before the server probes a connection, and between probes. */
const keepaliveSeconds = 5;

/**
 * The startup parameters of docket's own connections: the statement and lock limits, and the
 * server-side keepalive (probes after 5 s of silence, every 5 s, 3 of them) plus
 * `tcp_user_timeout`, so that a backend whose node went silent is ended in about 20 s.
 */
export function sessionParameters(limits: SessionLimits): Record<string, string> {
  const ms = (value: number | false) => String(value === false ? 0 : value);
  return {
    statement_timeout: ms(limits.statementTimeout),
    lock_timeout: ms(limits.lockTimeout),
    tcp_keepalives_idle: String(keepaliveSeconds),
    tcp_keepalives_interval: String(keepaliveSeconds),
    tcp_keepalives_count: "3",
    tcp_user_timeout: String(4 * keepaliveSeconds * 1000),
  };
}
