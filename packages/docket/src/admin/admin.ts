import { z } from "zod";
import { toJob } from "../db/job-row.js";
import { ConfigError, JobNotFoundError } from "../errors.js";
import * as statements from "../sql/admin.js";
import { type Executor, run } from "../sql/executor.js";
import type { JobRow } from "../sql/jobs.js";
import { selectJob } from "../sql/jobs.js";
import { type Job, type JobState, jobStates } from "../types.js";
import { type Duration, durationMs } from "../validation/duration.js";
import { findNonJson } from "../validation/json.js";
import { zodToConfigError } from "../validation/zod-errors.js";
import { nameSchema } from "../workers/define-worker.js";

/**
 * The admin API behind `queue.listJobs`, `cancelJob(s)`, `retryJob(s)`, `deleteJob(s)` and
 * `rescheduleJob` (see docs/admin.md). Single-id calls throw {@link JobNotFoundError} for a
 * job that does not exist and return `null` when the job exists but the action does not apply
 * to its state; bulk calls return the jobs they changed.
 */

/** A job id as users hold one: docket gives strings, numbers and bigints are accepted too. */
export type JobId = string | number | bigint;

/** Which jobs a listing or a bulk action applies to. Every given condition must hold. */
export interface JobFilter {
  ids?: JobId[];
  state?: JobState | JobState[];
  queue?: string | string[];
  /** Worker names, or workers made by `defineWorker`. */
  worker?: string | { name: string } | (string | { name: string })[];
  /** Jobs that have all of these tags. */
  tags?: string[];
  /** Jobs whose args contain this object (`args @> …`): `{ userId: 7 }`. */
  args?: Record<string, unknown>;
  /** Jobs whose meta contains this object. */
  meta?: Record<string, unknown>;
  insertedBefore?: Date;
  insertedAfter?: Date;
  scheduledBefore?: Date;
  scheduledAfter?: Date;
}

/** Options of `queue.listJobs`. */
export interface ListJobsOptions extends JobFilter {
  /** Jobs per page, 1 to 1000. Default 100. */
  limit?: number;
  /** The `next` cursor of the previous page. */
  after?: string;
  /** By id: `"asc"` (oldest first, the default) or `"desc"`. */
  order?: "asc" | "desc";
}

/** A page of `queue.listJobs`: `next` is the cursor of the next page, null after the last. */
export interface JobPage {
  jobs: Job[];
  next: string | null;
}

/** Options of the bulk actions (`cancelJobs`, `retryJobs`, `deleteJobs`). */
export interface BulkOptions extends JobFilter {
  /** Change at most this many jobs (lowest ids first); run again for the rest. */
  limit?: number;
}

/** When `rescheduleJob` moves a job to: a time, or a delay from now. */
export type RescheduleTo = { scheduledAt: Date } | { scheduleIn: Duration };

const idSchema = z
  .union([z.string(), z.number().int().nonnegative(), z.bigint().nonnegative()])
  .transform((id) => String(id))
  .refine((id) => /^\d{1,19}$/.test(id), "must be a job id (digits)");

const oneOrMany = <T extends z.ZodType>(item: T) =>
  z
    .union([item, z.array(item).min(1)])
    .transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const workerName = z.union([nameSchema, z.object({ name: nameSchema }).transform((w) => w.name)]);
const date = z.date().refine((d) => !Number.isNaN(d.getTime()), "must be a valid Date");
const jsonObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const problem = findNonJson(value, "$", { text: true });
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const filterShape = {
  ids: z.array(idSchema).min(1).optional(),
  state: oneOrMany(z.enum(jobStates)).optional(),
  queue: oneOrMany(nameSchema).optional(),
  worker: oneOrMany(workerName).optional(),
  tags: z.array(z.string().min(1)).min(1).optional(),
  args: jsonObject.optional(),
  meta: jsonObject.optional(),
  insertedBefore: date.optional(),
  insertedAfter: date.optional(),
  scheduledBefore: date.optional(),
  scheduledAfter: date.optional(),
};

const listSchema = z
  .object({
    ...filterShape,
    limit: z.number().int().min(1).max(1000).default(100),
    after: idSchema.optional(),
    order: z.enum(["asc", "desc"]).default("asc"),
  })
  .strict();

const bulkSchema = z
  .object({ ...filterShape, limit: z.number().int().min(1).optional() })
  .strict()
  .refine((f) => Object.entries(f).some(([key, value]) => key !== "limit" && value !== undefined), {
    message: "give at least one condition (state: [...] selects every job in those states)",
  });

const rescheduleSchema = z.union([
  z.object({ scheduledAt: date }).strict(),
  z.object({ scheduleIn: durationMs() }).strict(),
]);

function parse<T extends z.ZodType>(schema: T, value: unknown, call: string): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw zodToConfigError(parsed.error, call, schema);
  return parsed.data;
}

function parseId(id: unknown, call: string): string {
  const parsed = idSchema.safeParse(id);
  if (!parsed.success)
    throw new ConfigError(`${call}: ${JSON.stringify(String(id))} is not a job id`, { path: "id" });
  return parsed.data;
}

type ParsedFilter = z.output<z.ZodObject<typeof filterShape>>;

function toSql(filter: ParsedFilter): statements.JobFilterSql {
  return {
    ids: filter.ids,
    states: filter.state,
    queues: filter.queue,
    workers: filter.worker,
    tags: filter.tags,
    args: filter.args,
    meta: filter.meta,
    insertedBefore: filter.insertedBefore,
    insertedAfter: filter.insertedAfter,
    scheduledBefore: filter.scheduledBefore,
    scheduledAfter: filter.scheduledAfter,
  };
}

/** One page of jobs matching `options`, in id order. */
/**
 * One job by id, or null (`queue.getJob`).
 *
 * @example
 * ```ts
 * const job = await getJob(sql, "docket", "42");
 * ```
 * @throws ConfigError for something that is not a job id, as every admin call by id does.
 */
export async function getJob(executor: Executor, schema: string, id: JobId): Promise<Job | null> {
  const text = parseId(id, "getJob");
  const [row] = await run(executor, selectJob(schema, text));
  return row ? toJob(row) : null;
}

export async function listJobs(
  executor: Executor,
  schema: string,
  options: ListJobsOptions = {},
): Promise<JobPage> {
  const { limit, after, order, ...filter } = parse(listSchema, options, "listJobs");
  const rows = await run(
    executor,
    statements.listJobs(schema, toSql(filter), { limit: limit + 1, after, order }),
  );
  const more = rows.length > limit;
  const jobs = rows.slice(0, limit).map(toJob);
  return { jobs, next: more ? (jobs[jobs.length - 1]?.id ?? null) : null };
}

const countSchema = z.object(filterShape).strict();

/**
 * How many jobs match `filter`, counting at most `cap` (then `exact` is false: "at least").
 *
 * @example
 * ```ts
 * const { count, exact } = await countJobs(sql, "docket", { state: "discarded" }, 10_000);
 * ```
 */
export async function countJobs(
  executor: Executor,
  schema: string,
  filter: JobFilter,
  cap: number,
): Promise<{ count: number; exact: boolean }> {
  const parsed = parse(countSchema, filter, "countJobs");
  const [row] = await run(executor, statements.countJobs(schema, toSql(parsed), cap + 1));
  const count = row?.count ?? 0;
  return count > cap ? { count: cap, exact: false } : { count, exact: true };
}

type BulkStatement = (
  schema: string,
  filter: statements.JobFilterSql,
  limit?: number,
) => ReturnType<typeof statements.deleteJobs>;

async function bulk(
  executor: Executor,
  schema: string,
  statement: BulkStatement,
  options: BulkOptions,
  call: string,
) {
  const { limit, ...filter } = parse(bulkSchema, options, call);
  const rows = await run(executor, statement(schema, toSql(filter), limit));
  return rows.map(toJob);
}

async function single(
  executor: Executor,
  schema: string,
  statement: BulkStatement,
  id: JobId,
  call: string,
): Promise<Job | null> {
  const text = parseId(id, call);
  const [row] = await run(executor, statement(schema, { ids: [text] }));
  if (row) return toJob(row);
  return orNotFound(executor, schema, text);
}

async function orNotFound(executor: Executor, schema: string, id: string): Promise<null> {
  const [existing] = await run(executor, selectJob(schema, id));
  if (!existing) throw new JobNotFoundError(id);
  return null;
}

/** Cancels the matching jobs that have not finished; executing ones get their signal aborted. */
export function cancelJobs(
  executor: Executor,
  schema: string,
  options: BulkOptions,
): Promise<Job[]> {
  return bulk(executor, schema, statements.cancelJobs, options, "cancelJobs");
}

/** Cancels one job; null when it had already finished. */
export function cancelJob(executor: Executor, schema: string, id: JobId): Promise<Job | null> {
  return single(executor, schema, statements.cancelJobs, id, "cancelJob");
}

/** Makes the matching waiting or finished jobs available now. */
export function retryJobs(
  executor: Executor,
  schema: string,
  options: BulkOptions,
): Promise<Job[]> {
  return bulk(executor, schema, statements.retryJobs, options, "retryJobs");
}

/** Makes one job available now; null when it is available or executing already. */
export function retryJob(executor: Executor, schema: string, id: JobId): Promise<Job | null> {
  return single(executor, schema, statements.retryJobs, id, "retryJob");
}

/** Deletes the matching jobs that are not executing; returns them as they were. */
export function deleteJobs(
  executor: Executor,
  schema: string,
  options: BulkOptions,
): Promise<Job[]> {
  return bulk(executor, schema, statements.deleteJobs, options, "deleteJobs");
}

/** Deletes one job; null when it is executing (cancel it first). */
export function deleteJob(executor: Executor, schema: string, id: JobId): Promise<Job | null> {
  return single(executor, schema, statements.deleteJobs, id, "deleteJob");
}

/** Moves one job that has not started to a new time; null when it is executing or finished. */
export async function rescheduleJob(
  executor: Executor,
  schema: string,
  id: JobId,
  to: RescheduleTo,
): Promise<Job | null> {
  const text = parseId(id, "rescheduleJob");
  const when = parse(rescheduleSchema, to, "rescheduleJob");
  const [row] = await run(
    executor,
    statements.rescheduleJob(schema, text, {
      scheduledAt: "scheduledAt" in when ? when.scheduledAt : null,
      delayMs: "scheduleIn" in when ? when.scheduleIn : null,
    }),
  );
  return row ? toJob(row as JobRow) : orNotFound(executor, schema, text);
}
