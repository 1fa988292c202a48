import type { Command } from "commander";
import { CliError, exitCodes } from "../cli-error.js";
import { adminQueue, type CommonOptions, commandContext, withCommonOptions } from "../context.js";

interface QueueCommandOptions extends CommonOptions {
  node?: string;
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

/** `docket queues pause|resume|scale`: change a queue on every node (or one, with --node). */
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
}
