import type { RawBuilder } from "kysely";
import type { Sql } from "postgres";
import { run } from "../sql/executor.js";
import {
  type ArchivePeriod,
  archiveCandidates,
  type BatchTable,
  createArchiveTable,
  deleteCandidates,
  firstCandidatePeriod,
} from "../sql/maintenance/cleanup.js";

/**
 * The two loops every table strategy ends in: delete candidates in batches, or move them into
 * dated archive tables in batches. Each batch is one short transaction; the loop checks
 * `shouldStop` before each, so a timeout stops it between batches with the counts so far.
 */

/** Builds the candidate rows of one batch (their key and `docket_date`). */
export type CandidateQuery = (
  limit: number,
  within?: { from: Date; until: Date },
) => RawBuilder<unknown>;

/** Counts of a run, updated after every batch so that a timeout or an error can report them. */
export interface BatchProgress {
  /** Rows removed from the source table (deleted or archived). */
  deleted: number;
  batches: number;
  /** Rows moved per archive table. */
  archived: Record<string, number>;
}

/** What the loops need. */
export interface BatchLoop {
  sql: Sql;
  table: BatchTable;
  batchSize: number;
  shouldStop: () => boolean;
  progress: BatchProgress;
}

/** Deletes candidates until a batch comes back short. Returns false if it stopped early. */
export async function deleteInBatches(
  loop: BatchLoop,
  candidates: CandidateQuery,
): Promise<boolean> {
  for (;;) {
    if (loop.shouldStop()) return false;
    const [row] = await run(loop.sql, deleteCandidates(loop.table, candidates(loop.batchSize)));
    const deleted = row?.deleted ?? 0;
    loop.progress.deleted += deleted;
    loop.progress.batches++;
    if (deleted < loop.batchSize) return true;
  }
}

/**
 * Moves candidates into archive tables named `<prefix>_<period>` until none is left. Each batch
 * takes the archive period of its first candidate, creates that table like the source if it
 * does not exist, and moves the candidates of that period, all in one transaction. Returns
 * false if it stopped early.
 */
export async function archiveInBatches(
  loop: BatchLoop,
  candidates: CandidateQuery,
  archive: { prefix: string; period: ArchivePeriod },
): Promise<boolean> {
  for (;;) {
    if (loop.shouldStop()) return false;
    const batch = await loop.sql.begin(async (tx) => {
      const [period] = await run(tx, firstCandidatePeriod(candidates(1), archive.period));
      if (!period) return undefined;
      if (!/^\d{4}(_\d{2}){0,2}$/.test(period.suffix))
        throw new Error(`unexpected archive suffix ${period.suffix}`);
      const name = `${archive.prefix}_${period.suffix}`;
      await run(tx, createArchiveTable(loop.table, name));
      const within = { from: period.from, until: period.until };
      const [row] = await run(
        tx,
        archiveCandidates(loop.table, name, candidates(loop.batchSize, within), within),
      );
      return { name, moved: row?.moved ?? 0 };
    });
    if (!batch) return true;
    const { name, moved } = batch as { name: string; moved: number };
    loop.progress.deleted += moved;
    loop.progress.batches++;
    loop.progress.archived[name] = (loop.progress.archived[name] ?? 0) + moved;
    // The first candidate is always among those moved; nothing moved means it vanished meanwhile.
    if (moved === 0) return true;
  }
}
