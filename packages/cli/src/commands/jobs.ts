import { type Command, InvalidArgumentError } from "commander";
import type { Job, JobFilter, Queue } from "docket";
import { jobFilterFromParams } from "docket/dashboard";
import { CliError, exitCodes } from "../cli-error.js";
import { adminQueue, type CommonOptions, commandContext, withCommonOptions } from "../context.js";
import { table } from "../output.js";

interface FilterOptions extends CommonOptions {
  state?: string;
  queue?: string;
  worker?: string;
  tag?: string;
  args: string[];
  meta: string[];
}

interface ListOptions extends FilterOptions {
  limit: number;
  after?: string;
}

interface ActionOptions extends FilterOptions {
  yes?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function limitOf(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000)
    throw new InvalidArgumentError("expected an integer from 1 to 1000");
  return n;
}

/** The filter flags, the same as the dashboard's jobs page. */
function withFilters(command: Command): Command {
  return command
    .option("--state <state>", "jobs in this state")
    .option("--queue <queue>", "jobs of this queue")
    .option("--worker <worker>", "jobs of this worker")
    .option("--tag <tag>", "jobs with this tag")
    .option("--args <key=value>", "jobs whose args hold this value (repeatable)", collect, [])
    .option("--meta <key=value>", "jobs whose meta holds this value (repeatable)", collect, []);
}

function filterOf(options: FilterOptions, ids: string[] = []): JobFilter {
  const params = new URLSearchParams();
  for (const key of ["state", "queue", "worker", "tag"] as const) {
    const value = options[key];
    if (value !== undefined) params.set(key, value);
  }
  for (const pair of options.args) params.append("args", pair);
  for (const pair of options.meta) params.append("meta", pair);
  const filter = jobFilterFromParams(params);
  return ids.length > 0 ? { ...filter, ids } : filter;
}

const hasConditions = (filter: JobFilter) => Object.values(filter).some((v) => v !== undefined);

function jobLines(jobs: Job[]): string[] {
  if (jobs.length === 0) return ["no jobs match"];
  return table(
    ["ID", "STATE", "WORKER", "QUEUE", "ATTEMPT", "SCHEDULED"],
    jobs.map((j) => [
      j.id,
      j.state,
      j.worker,
      j.queue,
      `${j.attempt}/${j.maxAttempts}`,
      j.scheduledAt.toISOString(),
    ]),
  );
}

function detailLines(job: Job): string[] {
  const lines = [
    `job ${job.id}: ${job.worker} on ${job.queue}, ${job.state}, attempt ${job.attempt} of ${job.maxAttempts}`,
    `inserted ${job.insertedAt.toISOString()}, scheduled ${job.scheduledAt.toISOString()}`,
  ];
  if (job.attemptedAt)
    lines.push(`attempted ${job.attemptedAt.toISOString()} by ${job.attemptedBy ?? "?"}`);
  const finished = job.completedAt ?? job.discardedAt ?? job.cancelledAt;
  if (finished) lines.push(`${job.state} ${finished.toISOString()}`);
  if (job.tags.length > 0) lines.push(`tags ${job.tags.join(", ")}`);
  lines.push(`args ${JSON.stringify(job.args)}`, `meta ${JSON.stringify(job.meta)}`);
  for (const error of job.errors)
    lines.push(`error (attempt ${error.attempt}, ${error.at}): ${error.error}`);
  return lines;
}

async function withQueue<T>(
  options: CommonOptions,
  body: (queue: Queue, output: Awaited<ReturnType<typeof commandContext>>["output"]) => Promise<T>,
): Promise<T> {
  const { config, output } = await commandContext(options);
  const queue = adminQueue(config);
  try {
    return await body(queue, output);
  } finally {
    await queue.stop({ grace: 0 }).catch(() => {});
  }
}

const pastTense = { retry: "retried", cancel: "cancelled", delete: "deleted" } as const;

/** `docket jobs list|show|retry|cancel|delete`: the dashboard's job operations from a shell. */
export function registerJobs(program: Command): void {
  const jobs = program.command("jobs").description("list, show, retry, cancel or delete jobs");

  withCommonOptions(withFilters(jobs.command("list").description("list jobs, newest first")))
    .option("--limit <n>", "jobs per page (1-1000)", limitOf, 50)
    .option("--after <id>", "the page after this job id (the `next` of the previous page)")
    .action(async (options: ListOptions) => {
      await withQueue(options, async (queue, output) => {
        const page = await queue.listJobs({
          ...filterOf(options),
          limit: options.limit,
          after: options.after,
          order: "desc",
        });
        output.result(page, () => [
          ...jobLines(page.jobs),
          ...(page.next ? [`more: --after ${page.next}`] : []),
        ]);
      });
    });

  withCommonOptions(
    jobs.command("show <id>").description("show one job: args, meta, errors"),
  ).action(async (id: string, options: CommonOptions) => {
    await withQueue(options, async (queue, output) => {
      const job = await queue.getJob(id);
      if (!job) throw new CliError(`no job ${id}`, { code: "JOB_NOT_FOUND" });
      output.result(job, () => detailLines(job));
    });
  });

  for (const action of ["retry", "cancel", "delete"] as const) {
    withCommonOptions(
      withFilters(
        jobs
          .command(`${action} [ids...]`)
          .description(`${action} jobs by id, or every job matching the filters (with --yes)`),
      ),
    )
      .option("--yes", "act on every job matching the filters (without it: count them only)")
      .action(async (ids: string[], options: ActionOptions) => {
        const filter = filterOf(options, ids);
        if (!hasConditions(filter)) {
          throw new CliError(`give job ids or at least one filter to ${action}`, {
            exitCode: exitCodes.usage,
          });
        }
        await withQueue(options, async (queue, output) => {
          if (ids.length === 0 && !options.yes) {
            const { count, exact } = await queue.countJobs(filter);
            const total = `${exact ? "" : "more than "}${count}`;
            throw new CliError(`${total} jobs match; add --yes to ${action} them`, {
              exitCode: exitCodes.usage,
              code: "CONFIRM",
            });
          }
          const changed: string[] = [];
          for (;;) {
            const batch =
              action === "retry"
                ? await queue.retryJobs({ ...filter, limit: 1000 })
                : action === "cancel"
                  ? await queue.cancelJobs({ ...filter, limit: 1000 })
                  : await queue.deleteJobs({ ...filter, limit: 1000 });
            changed.push(...batch.map((j) => j.id));
            if (batch.length < 1000) break;
          }
          output.result({ [pastTense[action]]: changed }, () => [
            `${pastTense[action]} ${changed.length} jobs`,
          ]);
        });
      });
  }
}
