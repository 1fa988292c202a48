import type { Sql } from "postgres";

/** Creates the ledger that the fault-suite nodes write each execution to. */
export async function createLedger(sql: Sql): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS ledger (
      job_id bigint NOT NULL,
      node text NOT NULL,
      attempt integer NOT NULL,
      at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`;
}

/** Counts of jobs per state. */
export async function jobCounts(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ state: string; n: number }[]>`
    SELECT state::text, count(*)::int AS n FROM docket.jobs GROUP BY 1`;
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** Jobs that ran more than once, with the nodes that ran them in order. */
export async function duplicates(sql: Sql): Promise<{ job_id: string; nodes: string[] }[]> {
  return sql<{ job_id: string; nodes: string[] }[]>`
    SELECT job_id::text, array_agg(node ORDER BY at) AS nodes
    FROM ledger GROUP BY job_id HAVING count(*) > 1`;
}

/** Jobs that never ran. */
export async function neverRan(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM docket.jobs j WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.job_id = j.id)`;
  return row?.n ?? 0;
}
