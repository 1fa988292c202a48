import type { Sql } from "postgres";
import { toJob } from "../db/job-row.js";
import { forgetLayout, jobsLayoutOf } from "../db/layout-cache.js";
import type { JobsLayout } from "../db/partitioned-layout.js";
import { InsertError } from "../errors.js";
import { type Executor, run } from "../sql/executor.js";
import type { InsertRow } from "../sql/jobs.js";
import {
  type ConflictRow,
  insertUniqueJobs,
  selectConflicts,
  type UniqueInsertRow,
} from "../sql/unique-jobs.js";
import type { Job } from "../types.js";
import { type ResolvedUniqueOptions, uniqueColumns } from "./unique-options.js";

/** Rounds of insert-then-look-up before giving up on a key whose holder keeps vanishing. */
const maxRounds = 10;

/** Where a unique insert runs. */
export interface UniqueInsertTarget {
  /** The caller's transaction, when the insert belongs to one. */
  tx: Executor | undefined;
  /** Docket's pool, which opens a transaction of its own when there is no `tx`. */
  pool: Sql;
  schema: string;
  /** Rows per statement. */
  chunk: number;
}

/**
 * Inserts unique jobs: one `INSERT … ON CONFLICT DO NOTHING` per chunk, then, for the rows that
 * met an existing job, one statement that fetches those jobs (and replaces the chosen fields),
 * in one transaction (the caller's, or one of its own for a batch). Rows of the batch with equal keys collapse into the first. The result
 * has one job per input row, in input order, each with `conflict` set.
 */
export async function insertUnique(
  target: UniqueInsertTarget,
  rows: InsertRow[],
  unique: ResolvedUniqueOptions,
): Promise<Job[]> {
  const uniqueRows: UniqueInsertRow[] = rows.map((row) => ({
    ...row,
    ...uniqueColumns(row, unique),
  }));
  const layout = await jobsLayoutOf(target.pool, target.schema);
  const work = async (executor: Executor): Promise<Job[]> => {
    const jobs: Job[] = [];
    for (let i = 0; i < uniqueRows.length; i += target.chunk) {
      jobs.push(
        ...(await insertChunk(
          executor,
          { schema: target.schema, layout },
          uniqueRows.slice(i, i + target.chunk),
          unique,
        )),
      );
    }
    return jobs;
  };
  try {
    if (target.tx) return await work(target.tx);
    // One job is inserted by the first statement or not at all, so a transaction adds round
    // trips and nothing else; a batch needs one to be all or none.
    if (uniqueRows.length === 1) return await work(target.pool);
    return (await target.pool.begin((tx) => work(tx))) as Job[];
  } catch (error) {
    // 42P10: the plain table's ON CONFLICT met a table partitioned since this pool looked.
    if ((error as { code?: string }).code === "42P10" && layout === "plain") {
      forgetLayout(target.pool, target.schema);
      if ((await jobsLayoutOf(target.pool, target.schema)) === "partitioned" && !target.tx) {
        return insertUnique(target, rows, unique);
      }
    }
    throw error;
  }
}

async function insertChunk(
  executor: Executor,
  { schema, layout }: { schema: string; layout: JobsLayout },
  rows: UniqueInsertRow[],
  unique: ResolvedUniqueOptions,
): Promise<Job[]> {
  // Rows with equal bases get equal keys (the bucket is the same within a statement): send one.
  const firstOfBase = new Map<string, number>();
  const distinct: number[] = [];
  rows.forEach((row, index) => {
    if (firstOfBase.has(row.unique_base)) return;
    firstOfBase.set(row.unique_base, index);
    distinct.push(index);
  });
  const found = new Map<number, Job>();
  let pending = distinct;
  for (let round = 0; pending.length > 0; round++) {
    if (round >= maxRounds) {
      throw new InsertError(
        `unique insert: the jobs holding ${pending.length} key(s) kept changing; try again`,
      );
    }
    const inserted = await run(
      executor,
      insertUniqueJobs(
        schema,
        pending.map((i) => rows[i] as UniqueInsertRow),
        layout,
      ),
    );
    const conflicts: { index: number; key: string }[] = [];
    for (const result of inserted) {
      const index = pending[result.input_ord - 1] as number;
      if (result.id === null) conflicts.push({ index, key: result.input_key });
      else found.set(index, { ...toJob(result), conflict: false });
    }
    if (conflicts.length === 0) break;
    const existing = await run(
      executor,
      selectConflicts(
        schema,
        conflicts.map(({ index, key }) => conflictRow(rows[index] as UniqueInsertRow, key)),
        unique.replace,
      ),
    );
    const byKey = new Map(existing.map((row) => [row.input_key, row]));
    pending = [];
    for (const { index, key } of conflicts) {
      const row = byKey.get(key);
      // The job that blocked the insert finished or was deleted since: insert again.
      if (row) found.set(index, { ...toJob(row), conflict: true });
      else pending.push(index);
    }
  }
  return rows.map((row, index) => {
    const first = firstOfBase.get(row.unique_base) as number;
    const job = found.get(first) as Job;
    return first === index ? job : { ...job, conflict: true };
  });
}

function conflictRow(row: UniqueInsertRow, key: string): ConflictRow {
  return {
    key,
    queue: row.queue,
    args: row.args,
    meta: row.meta,
    tags: row.tags,
    priority: row.priority,
    max_attempts: row.max_attempts,
    scheduled_at: row.scheduled_at,
    schedule_in_ms: row.schedule_in_ms,
  };
}
