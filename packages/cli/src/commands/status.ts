import type { Command } from "commander";
import {
  type Duration,
  describeLimits,
  jobStates,
  Migrator,
  readStatus,
  type StatusReport,
} from "docket";
import {
  type CommonOptions,
  commandContext,
  schemaOf,
  withCommonOptions,
  withDatabase,
} from "../context.js";
import { table } from "../output.js";

/** The heartbeat timeout the nodes use, so that "live" means what the lifeline thinks it means. */
function heartbeatTimeout(options: Record<string, unknown>): Duration | undefined {
  const heartbeat = options.heartbeat as { timeout?: Duration } | false | undefined;
  return heartbeat ? heartbeat.timeout : undefined;
}

function since(date: Date): string {
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  return `${seconds}s ago`;
}

function render(report: StatusReport, pending: string[]): string[] {
  const lines = [`schema ${report.schema}`];
  if (pending.length > 0)
    lines.push(`pending migrations: ${pending.join(", ")} (run docket migrate)`);
  if (report.leaders.length === 0) lines.push("leader: none");
  for (const leader of report.leaders) {
    lines.push(
      `leader${leader.name === "docket" ? "" : ` (${leader.name})`}: ${leader.node}, since ${leader.electedAt.toISOString()}`,
    );
  }
  lines.push("");
  if (report.queues.length === 0) lines.push("no queues yet");
  else {
    lines.push(
      ...table(
        ["QUEUE", "PAUSED", ...jobStates.map((s) => s.toUpperCase()), "LIMITS"],
        report.queues.map((q) => [
          q.name,
          q.paused ? "yes" : "no",
          ...jobStates.map((s) => String(q.counts[s])),
          describeLimits(q.limits),
        ]),
      ),
    );
  }
  lines.push("");
  if (report.producers.length === 0) lines.push("no live producers");
  else {
    lines.push(
      ...table(
        ["NODE", "QUEUE", "CONCURRENCY", "STARTED", "HEARTBEAT"],
        report.producers.map((p) => [
          p.node,
          p.queue,
          String(p.concurrency),
          p.startedAt.toISOString(),
          since(p.heartbeatAt),
        ]),
      ),
    );
  }
  if (report.missingTables.length > 0) {
    lines.push(
      "",
      `(schema lacks ${report.missingTables.join(", ")}: run docket migrate for the full picture)`,
    );
  }
  return lines;
}

/** `docket status`: queues with job counts per state, paused queues, the leader, live producers. */
export function registerStatus(program: Command): void {
  withCommonOptions(
    program
      .command("status")
      .description("show queues, jobs per state, paused queues, the leader and live producers"),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ docket status
  $ docket status --json | jq '.queues[] | select(.paused)'`,
    )
    .action(async (options: CommonOptions) => {
      const { output, config } = await commandContext(options);
      const schema = schemaOf(config);
      await withDatabase(config, async (sql) => {
        const timeout = heartbeatTimeout(config.options as Record<string, unknown>);
        const report = await readStatus(
          sql,
          schema,
          timeout === undefined ? {} : { heartbeatTimeout: timeout },
        );
        const migrations = await new Migrator(sql, schema).status();
        const pending = migrations
          .filter((m) => !m.applied)
          .map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`);
        output.result({ ...report, pendingMigrations: pending }, () => render(report, pending));
      });
    });
}
