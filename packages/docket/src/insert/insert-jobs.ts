import type { Sql } from "postgres";
import { type CleanupTarget, isCleanupTarget } from "../cleanup/define-target.js";
import { asDate } from "../db/job-row.js";
import { InsertError } from "../errors.js";
import { type Executor, run } from "../sql/executor.js";
import { insertDependentBatch, insertJobBatch } from "../sql/jobs.js";
import type { Job } from "../types.js";
import { type AnyWorker, nameSchema } from "../workers/define-worker.js";
import { performInline } from "../workers/perform-in-memory.js";
import {
  checkArgs,
  type InsertOptions,
  parseInsertOptions,
  type SharedInsertFields,
  sharedInsertFields,
} from "./insert-options.js";
import { insertUnique } from "./unique-insert.js";
import { resolveUnique } from "./unique-options.js";

/** Rows per INSERT statement; more go in one transaction, pipelined. */
const insertChunk = 5_000;

/** Chunks sent and not yet answered, at most: bounds the memory of a large insertMany. */
const chunksInFlight = 2;

/**
 * The most jobs one `insertMany` call takes (1,000,000): the call returns every job, so its
 * memory grows with it; more go in several calls.
 */
export const maxInsertMany = 1_000_000;

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
  const shared = sharedInsertFields(definition, parsed);
  if (argsList.length > maxInsertMany) {
    throw new InsertError(
      `insertMany: ${argsList.length} jobs in one call, over the limit of ${maxInsertMany}; split the list into several calls`,
    );
  }
  const { sql, schema } = context;
  const unique = resolveUnique(
    "unique" in definition ? definition.unique : undefined,
    parsed.unique,
  );
  const dependsOn = parsed.dependsOn && parsed.dependsOn.length > 0 ? parsed.dependsOn : null;
  if (dependsOn && argsList.length > insertChunk) {
    throw new InsertError(`insert: at most ${insertChunk} jobs with dependsOn per call`);
  }
  if (dependsOn && unique) {
    throw new InsertError("insert: dependsOn cannot be combined with unique options yet");
  }
  if (context.testing === "inline" || unique || dependsOn || argsList.length <= insertChunk) {
    const argsJson = await checkAll(definition, argsList, context.maxArgsBytes);
    if (argsList.length === 0) return [];
    // Rows of their own for the paths that take whole rows (each job gets its own tags array),
    // with the args as stored: what the schema returned.
    const rows = () =>
      argsJson.map((json) => ({ ...shared, tags: [...shared.tags], args: JSON.parse(json) }));
    if (context.testing === "inline") {
      return performInline("perform" in definition ? definition : undefined, rows());
    }
    if (dependsOn) {
      const statement = insertDependentBatch(
        schema,
        shared,
        `[${argsJson.join(",")}]`,
        [...new Set(dependsOn)],
        parsed.onDependencyFailure ?? "cancel",
      );
      return insertChunkOf(parsed.tx ?? sql, schema, shared, argsJson, statement);
    }
    if (unique) {
      return insertUnique({ tx: parsed.tx, pool: sql, schema, chunk: insertChunk }, rows(), unique);
    }
    return insertChunkOf(parsed.tx ?? sql, schema, shared, argsJson);
  }
  // A large call is streamed: each chunk's args are checked and turned into JSON only when it is
  // its turn, and at most `chunksInFlight` chunks are on the wire, so the JSON of the whole call
  // never sits in memory at once. One transaction (the caller's, or one of its own) keeps it
  // all-or-nothing.
  const insertAll = async (executor: Executor): Promise<Job[]> => {
    const jobs: Job[] = [];
    const inFlight: Promise<Job[]>[] = [];
    for (let i = 0; i < argsList.length; i += insertChunk) {
      const argsJson = await checkAll(
        definition,
        argsList.slice(i, i + insertChunk),
        context.maxArgsBytes,
      );
      const chunk = insertChunkOf(executor, schema, shared, argsJson);
      // Awaited below; a chunk that fails while another is awaited must not go unhandled.
      chunk.catch(() => {});
      inFlight.push(chunk);
      // postgres.js pipelines the chunks on the transaction's connection: the server inserts
      // one while the client builds the next.
      if (inFlight.length >= chunksInFlight)
        jobs.push(...(await (inFlight.shift() as Promise<Job[]>)));
    }
    for (const chunk of inFlight) jobs.push(...(await chunk));
    return jobs;
  };
  if (parsed.tx) {
    // In the caller's transaction an args error after some chunks were written could not be
    // undone (the caller may catch it and commit): every chunk is checked before any is sent,
    // a chunk at a time so the JSON of the whole call is still never held at once. A database
    // error needs no care: PostgreSQL then refuses to commit the transaction at all.
    for (let i = 0; i < argsList.length; i += insertChunk) {
      await checkAll(definition, argsList.slice(i, i + insertChunk), context.maxArgsBytes);
    }
    return insertAll(parsed.tx);
  }
  return (await sql.begin((tx) => insertAll(tx))) as Job[];
}

/**
 * Checks every job's args. A synchronous schema (the usual case) answers in the loop; only when
 * one answers with a promise (an async Standard Schema) are the answers awaited together.
 */
function checkAll(
  worker: AnyWorker | { name: string },
  argsList: readonly unknown[],
  maxArgsBytes: number,
): string[] | Promise<string[]> {
  const checked: (string | Promise<string>)[] = new Array(argsList.length);
  let pending = false;
  for (let i = 0; i < argsList.length; i++) {
    const json = checkArgs(worker, argsList[i], maxArgsBytes);
    if (typeof json !== "string") pending = true;
    checked[i] = json;
  }
  return pending ? Promise.all(checked) : (checked as string[]);
}

/**
 * Inserts one chunk and builds its jobs from what was sent plus the one row the database returns
 * (ids, state, times): the args come back as they are stored, parsed from the JSON sent.
 */
async function insertChunkOf(
  executor: Executor,
  schema: string,
  shared: SharedInsertFields,
  argsJson: string[],
  statement?: ReturnType<typeof insertDependentBatch>,
): Promise<Job[]> {
  const [batch] = await run(
    executor,
    statement ?? insertJobBatch(schema, shared, `[${argsJson.join(",")}]`),
  );
  if (statement && !batch?.ids) throw new InsertError("insert: a job in dependsOn does not exist");
  const ids = batch?.ids?.split(",") ?? [];
  if (!batch || ids.length !== argsJson.length) {
    throw new InsertError(`insert: ${argsJson.length} jobs sent, ${ids.length} stored`);
  }
  const metaJson = JSON.stringify(shared.meta);
  const insertedAt = +asDate(batch.inserted_at);
  const scheduledAt = +asDate(batch.scheduled_at);
  // Each job gets objects of its own: a caller may change one job without touching the others.
  return ids.map((id, k) => ({
    id,
    state: batch.state,
    queue: shared.queue,
    worker: shared.worker,
    args: JSON.parse(argsJson[k] as string) as Record<string, unknown>,
    meta: metaJson === "{}" ? {} : (JSON.parse(metaJson) as Record<string, unknown>),
    tags: [...shared.tags],
    errors: [],
    attempt: 0,
    maxAttempts: shared.max_attempts,
    priority: shared.priority,
    insertedAt: new Date(insertedAt),
    scheduledAt: new Date(scheduledAt),
    attemptedAt: null,
    completedAt: null,
    cancelledAt: null,
    discardedAt: null,
    attemptedBy: null,
  }));
}

/** The worker an insert names: a definition, a cleanup target, or a checked worker name. */
export function resolveWorker(
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
