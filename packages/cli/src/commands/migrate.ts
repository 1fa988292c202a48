import { type Command, InvalidArgumentError } from "commander";
import { type MigrationStatus, Migrator } from "docket";
import { CliError, exitCodes } from "../cli-error.js";
import {
  type CommonOptions,
  commandContext,
  schemaOf,
  withCommonOptions,
  withDatabase,
} from "../context.js";
import { table } from "../output.js";

interface MigrateOptions extends CommonOptions {
  status?: boolean;
  down?: number;
  sql?: boolean;
  partitioned?: boolean;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

const label = (m: MigrationStatus) => `${String(m.version).padStart(4, "0")}_${m.name}`;
const plain = (m: MigrationStatus) => ({ version: m.version, name: m.name });

/** `docket migrate`: apply pending migrations, show their status, or revert the last N. */
export function registerMigrate(program: Command): void {
  withCommonOptions(
    program
      .command("migrate")
      .description("apply pending migrations (safe to run from many processes at once)")
      .option("--status", "list every migration as applied or pending, change nothing")
      .option("--down <n>", "revert the last N applied migrations", positiveInteger)
      .option("--sql", "print the SQL of the pending migrations for review, change nothing")
      .option(
        "--partitioned",
        "then partition the jobs table by state and day, online (also partitioned = true in docket.toml)",
      ),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ docket migrate                       apply what is pending
  $ docket migrate --status --json       applied / pending, as JSON
  $ docket migrate --down 1              revert the newest migration
  $ docket migrate --sql > pending.sql   the SQL a DBA would review (or apply with psql)
  $ docket migrate --partitioned         apply, then partition jobs (docs/scaling.md)`,
    )
    .action(async (options: MigrateOptions) => {
      if (options.status && options.down !== undefined) {
        throw new CliError("--status and --down cannot be used together", {
          exitCode: exitCodes.usage,
        });
      }
      if (options.sql && (options.status || options.down !== undefined)) {
        throw new CliError("--sql cannot be used with --status or --down", {
          exitCode: exitCodes.usage,
        });
      }
      const { output, config } = await commandContext(options);
      const schema = schemaOf(config);
      const partitioned = options.partitioned ?? config.options.partitioned === true;
      if (options.partitioned && (options.sql || options.status || options.down !== undefined)) {
        throw new CliError("--partitioned only goes with a plain docket migrate", {
          exitCode: exitCodes.usage,
        });
      }
      await withDatabase(config, async (sql) => {
        const migrator = new Migrator(sql, schema);
        if (options.sql) {
          const layout = await migrator.layout();
          const pending = await migrator.pendingSql();
          // The partitioned layout is an online move in batches, not a script: say it is not here.
          const script =
            partitioned && layout !== "partitioned"
              ? `${pending.trimEnd()}\n\n-- partitioned = true: the partitioned layout is not part of this script. Once it is\n-- applied, run \`docket migrate --partitioned\` (an online move, docs/scaling.md).\n`
              : pending;
          output.result({ schema, layout, sql: script }, () => [script.trimEnd()]);
        } else if (options.status) {
          const migrations = await migrator.status();
          output.result({ schema, migrations }, () =>
            table(
              ["MIGRATION", "STATE", "APPLIED AT"],
              migrations.map((m) => [
                label(m),
                m.applied ? "applied" : "pending",
                m.appliedAt?.toISOString() ?? "",
              ]),
            ),
          );
        } else if (options.down !== undefined) {
          const reverted = await migrator.down(options.down);
          output.result({ schema, reverted: reverted.map(plain) }, () =>
            reverted.length === 0
              ? [`nothing to revert in schema ${schema}`]
              : reverted.map((m) => `reverted ${label(m)} in schema ${schema}`),
          );
        } else {
          const applied = await migrator.up();
          const partition = partitioned ? await migrator.partition() : null;
          output.result(
            {
              schema,
              applied: applied.map(plain),
              ...(partition ? { layout: await migrator.layout(), partition } : {}),
            },
            () => [
              ...(applied.length === 0 && !partition?.swapped && !partition?.finishedMoved
                ? [`schema ${schema} is up to date`]
                : applied.map((m) => `applied ${label(m)} to schema ${schema}`)),
              ...(partition?.swapped
                ? [
                    `partitioned the jobs table of schema ${schema}: ${partition.liveMoved} live job(s) moved`,
                  ]
                : []),
              ...(partition?.finishedMoved
                ? [`moved ${partition.finishedMoved} finished job(s) into the partitioned table`]
                : []),
            ],
          );
        }
      });
    });
}
