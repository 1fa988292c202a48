import type { Sql } from "postgres";
import { type CleanupTarget, isCleanupTarget } from "./cleanup-target.js";
import { InsertError } from "./errors.js";
import { buildInsertRow, type InsertOptions, parseInsertOptions } from "./insert.js";
import { toJob } from "./job-row.js";
import { run } from "./sql/executor.js";
import { insertJobs, type JobRow } from "./sql/jobs.js";
import { performInline } from "./testing/perform-job.js";
import type { Job } from "./types.js";
import { resolveUnique } from "./unique.js";
import { insertUnique } from "./unique-insert.js";
import { type AnyWorker, nameSchema } from "./worker.js";

/** Rows per INSERT statement; more go in one transaction, pipelined. */
const insertChunk = 5_000;

/** What the insert path needs from its queue. */
export interface InsertContext {
  sql: Sql;
  schema: string;
  testing: "disabled" | "inline" | "manual";
  maxArgsBytes: number;
  workers: ReadonlyMap<string, AnyWorker>;
}

/**
 * Inserts jobs of one worker: checks options and args, then one statement per chunk (or the
 * unique variant, or an inline run in testing mode).
 */
export async function insertJobsOf(
  context: InsertContext,
  worker: AnyWorker | CleanupTarget | string,
  argsList: readonly unknown[],
  options: InsertOptions | undefined,
): Promise<Job[]> {
  const parsed = parseInsertOptions(options);
  const definition = resolveWorker(context.workers, worker);
  const rows = argsList.map((args) =>
    buildInsertRow(definition, args, parsed, context.maxArgsBytes),
  );
  if (rows.length === 0) return [];
  if (context.testing === "inline") {
    return performInline("perform" in definition ? definition : undefined, rows);
  }
  const unique = resolveUnique(
    "unique" in definition ? definition.unique : undefined,
    parsed.unique,
  );
  const { sql, schema } = context;
  if (unique) {
    return insertUnique({ tx: parsed.tx, pool: sql, schema, chunk: insertChunk }, rows, unique);
  }
  if (parsed.tx || rows.length <= insertChunk) {
    return (await run(parsed.tx ?? sql, insertJobs(schema, rows))).map(toJob);
  }
  return (await sql.begin(async (tx) => {
    // Sent at once: postgres.js pipelines them on the transaction's connection, so the server
    // inserts a chunk while the client reads the jobs of the one before (see bench/).
    const chunks: Promise<JobRow[]>[] = [];
    for (let i = 0; i < rows.length; i += insertChunk) {
      chunks.push(run(tx, insertJobs(schema, rows.slice(i, i + insertChunk))));
    }
    return (await Promise.all(chunks)).flatMap((result) => result.map(toJob));
  })) as Job[];
}

/** The worker an insert names: a definition, a cleanup target, or a checked worker name. */
function resolveWorker(
  workers: ReadonlyMap<string, AnyWorker>,
  worker: AnyWorker | CleanupTarget | string,
): AnyWorker | { name: string; queue?: string } {
  if (isCleanupTarget(worker)) {
    return workers.get(worker.worker) ?? { name: worker.worker, queue: worker.queue };
  }
  if (typeof worker === "string") {
    const known = workers.get(worker);
    if (known) return known;
    const name = nameSchema.safeParse(worker);
    if (!name.success) {
      throw new InsertError(
        `insert: worker name ${JSON.stringify(worker)} ${name.error.issues[0]?.message}`,
      );
    }
    return { name: worker };
  }
  if (typeof worker !== "object" || worker === null || typeof worker.name !== "string") {
    throw new InsertError(
      "insert: the first argument must be a worker made by defineWorker() or a worker name",
    );
  }
  return worker;
}
