import { sql } from "kysely";

/**
 * Every statement on the `leaders` table: one lease row per name, held by one node until it
 * expires. Times come from the database's clock, so the nodes' clocks do not matter.
 */

/** The NOTIFY channel on which a resigning leader invites the others to take over. */
export function leadershipChannel(schema: string): string {
  return `${schema}_leadership`;
}

/** What {@link claimLeadership} returns: the current lease, and whether `node` holds it. */
export interface LeaseRow {
  node: string;
  elected: boolean;
  elected_at: Date;
  expires_at: Date;
  /** Milliseconds until the lease expires, by the database's clock. */
  remaining_ms: number;
}

/**
 * Takes the lease `name` for `node` if it is free or expired, or extends it if `node` already
 * holds it. Returns the lease as it stands afterwards, with `elected` telling whether `node`
 * holds it (no row: nobody did, and the attempt lost a race; try again later).
 */
export function claimLeadership(schema: string, name: string, node: string, ttlMs: number) {
  const leaders = sql.id(schema, "leaders");
  return sql<LeaseRow>`
    WITH claimed AS (
      INSERT INTO ${leaders} AS l (name, node, elected_at, expires_at)
      VALUES (${name}, ${node}, now(), now() + ${ttlMs}::double precision * interval '1 millisecond')
      ON CONFLICT (name) DO UPDATE SET
        node = excluded.node,
        elected_at = CASE WHEN l.node = excluded.node THEN l.elected_at ELSE now() END,
        expires_at = excluded.expires_at
      WHERE l.node = excluded.node OR l.expires_at <= now()
      RETURNING l.node, l.elected_at, l.expires_at
    )
    SELECT node, true AS elected, elected_at, expires_at,
      (extract(epoch FROM expires_at - now()) * 1000)::double precision AS remaining_ms
    FROM claimed
    UNION ALL
    SELECT node, false, elected_at, expires_at,
      (extract(epoch FROM expires_at - now()) * 1000)::double precision
    FROM ${leaders}
    WHERE name = ${name} AND NOT EXISTS (SELECT 1 FROM claimed)`;
}

/** Gives up the lease if `node` holds it, and tells the other nodes at once. */
export function releaseLeadership(schema: string, name: string, node: string) {
  const leaders = sql.id(schema, "leaders");
  return sql<{ released: number }>`
    WITH released AS (
      DELETE FROM ${leaders} WHERE name = ${name} AND node = ${node} RETURNING name
    )
    SELECT count(pg_notify(${leadershipChannel(schema)}, name))::integer AS released FROM released`;
}

/** The current holder of the lease `name`, if its lease has not expired. */
export function selectLeader(schema: string, name: string) {
  return sql<{ node: string; elected_at: Date; expires_at: Date }>`
    SELECT node, elected_at, expires_at FROM ${sql.id(schema, "leaders")}
    WHERE name = ${name} AND expires_at > now()`;
}
