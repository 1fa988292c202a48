import type { Command } from "commander";
import { describeLimits, type FlowOptions, type PartitionBy } from "docket";
import { CliError, exitCodes } from "../cli-error.js";
import { adminQueue, type CommonOptions, commandContext, withCommonOptions } from "../context.js";

interface QueueCommandOptions extends CommonOptions {
  node?: string;
}

interface LimitCommandOptions extends CommonOptions {
  global?: string;
  rate?: string;
  partition?: string;
  by?: string;
  rateBy?: string;
}

function usage(message: string): CliError {
  return new CliError(message, { exitCode: exitCodes.usage });
}

function wholeNumber(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) {
    throw usage(`${flag} must be a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** `worker,args.accountId,args.region` → `{ worker: true, args: ["accountId", "region"] }`. */
function partitionBy(flag: string, text: string): PartitionBy {
  const by: { worker?: true; args?: string[] } = {};
  for (const part of text.split(",").map((p) => p.trim())) {
    if (part === "worker") by.worker = true;
    else if (part.startsWith("args.") && part.length > 5)
      by.args = [...(by.args ?? []), part.slice(5)];
    else
      throw usage(
        `${flag} takes worker and args.<key>, comma-separated; got ${JSON.stringify(part)}`,
      );
  }
  return by as PartitionBy;
}

/** The flow limits the options of `docket queues limit` describe (the library checks ranges). */
function limitsFromOptions(options: LimitCommandOptions): FlowOptions {
  const limits: FlowOptions = {};
  if (options.global !== undefined) limits.globalLimit = wholeNumber("--global", options.global);
  if (options.rate !== undefined) {
    const match = /^(\d+)\/(.+)$/.exec(options.rate);
    if (!match)
      throw usage(
        `--rate takes <allowed>/<period> like 100/1m, got ${JSON.stringify(options.rate)}`,
      );
    limits.rateLimit = { allowed: Number(match[1]), period: match[2] as string };
    if (options.rateBy !== undefined) {
      limits.rateLimit.partition = { by: partitionBy("--rate-by", options.rateBy) };
    }
  } else if (options.rateBy !== undefined) {
    throw usage("--rate-by needs --rate");
  }
  if (options.partition !== undefined) {
    if (options.by === undefined) throw usage("--partition needs --by");
    limits.partition = {
      limit: wholeNumber("--partition", options.partition),
      by: partitionBy("--by", options.by),
    };
  } else if (options.by !== undefined) {
    throw usage("--by needs --partition");
  }
  return limits;
}

async function control(
  options: QueueCommandOptions,
  body: (queue: ReturnType<typeof adminQueue>) => Promise<unknown>,
  done: string,
  document: Record<string, unknown>,
): Promise<void> {
  const { config, output } = await commandContext(options);
  const queue = adminQueue(config);
  try {
    await body(queue);
    output.result(document, () => [done]);
  } finally {
    await queue.stop({ grace: 0 }).catch(() => {});
  }
}

/** `docket queues pause|resume|scale|limit`: change a queue on every node (or one, with --node). */
export function registerQueues(program: Command): void {
  const queues = program
    .command("queues")
    .description("pause, resume or scale a queue on every node, kept across restarts");
  const nodeOption = [
    "--node <node>",
    "only this node, not stored (ends when the node stops)",
  ] as const;

  withCommonOptions(queues.command("pause <queue>").description("nothing new starts until resumed"))
    .option(...nodeOption)
    .action((name: string, options: QueueCommandOptions) =>
      control(options, (q) => q.pauseQueue(name, { node: options.node }), `paused ${name}`, {
        queue: name,
        paused: true,
      }),
    );

  withCommonOptions(queues.command("resume <queue>").description("resume a paused queue"))
    .option(...nodeOption)
    .action((name: string, options: QueueCommandOptions) =>
      control(options, (q) => q.resumeQueue(name, { node: options.node }), `resumed ${name}`, {
        queue: name,
        paused: false,
      }),
    );

  withCommonOptions(
    queues
      .command("scale <queue> <limit>")
      .description(
        "jobs of the queue that run at once per node; `default` restores the configured limit",
      ),
  )
    .option(...nodeOption)
    .action((name: string, limitText: string, options: QueueCommandOptions) => {
      const limit = limitText === "default" ? null : Number(limitText);
      if (limit !== null && !/^\d+$/.test(limitText)) {
        throw new CliError(
          `limit must be a whole number or "default", got ${JSON.stringify(limitText)}`,
          {
            exitCode: exitCodes.usage,
          },
        );
      }
      return control(
        options,
        (q) => q.scaleQueue(name, limit, { node: options.node }),
        `scaled ${name} to ${limit ?? "its configured limit"}`,
        { queue: name, limit },
      );
    });

  withCommonOptions(
    queues
      .command("limit <queue> [reset]")
      .description(
        "flow limits of the queue across every node, stored; `none` removes them, `default` restores each node's configured ones",
      ),
  )
    .option("--global <n>", "jobs of the queue executing at once across every node")
    .option("--rate <allowed/period>", "at most <allowed> starts per <period>, like 100/1m")
    .option("--rate-by <fields>", "count the rate per key: worker, args.<key>, comma-separated")
    .option("--partition <n>", "at most <n> executing at once per key (needs --by)")
    .option("--by <fields>", "the partition key: worker, args.<key>, comma-separated")
    .action(async (name: string, reset: string | undefined, options: LimitCommandOptions) => {
      if (reset !== undefined && reset !== "default" && reset !== "none") {
        throw usage(`the second argument can be "none" or "default", got ${JSON.stringify(reset)}`);
      }
      const limits =
        reset === "default" ? null : reset === "none" ? {} : limitsFromOptions(options);
      if (reset === undefined && Object.keys(limits ?? {}).length === 0) {
        throw usage(
          "give --global, --rate or --partition (or `default`; see docket queues limit --help)",
        );
      }
      const { config, output } = await commandContext(options);
      const queue = adminQueue(config);
      try {
        const stored = await queue.limitQueue(name, limits);
        output.result({ queue: name, limits: stored }, () => [
          limits === null
            ? `${name}: back to each node's configured limits`
            : `${name}: ${describeLimits(stored)}`,
        ]);
      } finally {
        await queue.stop({ grace: 0 }).catch(() => {});
      }
    });
}
