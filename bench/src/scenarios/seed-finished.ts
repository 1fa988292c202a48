// Finished jobs put straight into docket's table (one INSERT … SELECT generate_series per
// 250,000 rows), for the scenarios that measure a table holding a long history.

import type { Sql } from "postgres";

/**
 * Fills the table with `rows` completed jobs finished `hoursAgo` hours ago: 48 (the default) for
 * the pruner to delete, 1 for a history the pruner keeps (its default retention is a day).
 */
export async function seedFinished(sql: Sql, rows: number, hoursAgo = 48): Promise<void> {
  const ago = `${hoursAgo} hours`;
  const chunk = 250_000;
  for (let from = 0; from < rows; from += chunk) {
    const count = Math.min(chunk, rows - from);
    await sql`
      INSERT INTO docket.jobs (state, queue, worker, args, attempt, scheduled_at, attempted_at,
        completed_at, attempted_by, meta)
      SELECT 'completed', 'default', 'bench.noop', jsonb_build_object('i', -g), 1,
        now() - ${ago}::interval, now() - ${ago}::interval,
        now() - ${ago}::interval + g * interval '1 microsecond',
        'seed', '{}'
      FROM generate_series(${from + 1}::bigint, ${from + count}::bigint) AS g`;
  }
}
