import { describe, expect, test } from "vitest";
import { z } from "zod";
import { durationMs } from "../validation/duration.js";
import { listOptions } from "./schema-walk.js";
import { camelToSnake, type FileIssue, renderPath, tomlToOptions } from "./toml-keys.js";

// A schema shaped like options other features add (cron entries, per-name tables, job args),
// to show that the mapping is read off the schema rather than listed.
const schema = z
  .object({
    cron: z
      .array(
        z
          .object({
            expression: z.string(),
            worker: z.string(),
            args: z.record(z.string(), z.unknown()).default({}),
            maxAttempts: z.number().optional(),
          })
          .strict(),
      )
      .default([]),
    pruner: z.union([
      z.literal(false),
      z
        .object({
          maxAge: durationMs(),
          maxAgeByState: z.object({ completed: durationMs() }).strict(),
        })
        .strict(),
    ]),
    targets: z.record(z.string(), z.object({ runTimeout: durationMs() }).strict()),
    logger: z.custom<object>(() => true).optional(),
  })
  .strict();

function convert(value: unknown) {
  const issues: FileIssue[] = [];
  return { value: tomlToOptions(value, schema, issues), issues };
}

describe("snake_case to constructor keys, read off the schema", () => {
  test("camelToSnake", () => {
    expect(camelToSnake("maxAgeByState")).toBe("max_age_by_state");
    expect(camelToSnake("limit")).toBe("limit");
    expect(camelToSnake("ackBatchSize")).toBe("ack_batch_size");
  });

  test("array entries, nested tables and unions convert; names and job args are kept", () => {
    const { value, issues } = convert({
      cron: [
        {
          expression: "0 * * * *",
          worker: "reports.daily",
          max_attempts: 3,
          args: { user_id: 1, nested_key: { a_b: 2 } },
        },
      ],
      pruner: { max_age: "1d", max_age_by_state: { completed: "1h" } },
      targets: { Deployment_Logs: { run_timeout: "10m" } },
    });
    expect(issues).toEqual([]);
    expect(value).toEqual({
      cron: [
        {
          expression: "0 * * * *",
          worker: "reports.daily",
          maxAttempts: 3,
          args: { user_id: 1, nested_key: { a_b: 2 } },
        },
      ],
      pruner: { maxAge: "1d", maxAgeByState: { completed: "1h" } },
      targets: { Deployment_Logs: { runTimeout: "10m" } },
    });
    expect(convert({ pruner: false }).value).toEqual({ pruner: false });
  });

  test("unknown keys are reported with their path as written, and code-only options are refused", () => {
    const { issues } = convert({
      cron: [{ expresion: "x", worker: "w" }],
      targets: { T: { run_timout: 1 } },
      logger: {},
    });
    expect(issues).toEqual([
      { path: ["cron", 0, "expresion"], message: 'unknown option (did you mean "expression"?)' },
      {
        path: ["targets", "T", "run_timout"],
        message: 'unknown option (did you mean "run_timeout"?)',
      },
      { path: ["logger"], message: expect.stringMatching(/takes JavaScript values/) },
    ]);
  });

  test("renderPath spells a data path as the file or the code does", () => {
    expect(renderPath(schema, ["cron", 2, "maxAttempts"], "file")).toBe("cron[2].max_attempts");
    expect(renderPath(schema, ["targets", "MyTarget", "runTimeout"], "file")).toBe(
      "targets.MyTarget.run_timeout",
    );
    expect(renderPath(schema, ["pruner", "maxAgeByState", "completed"], "code")).toBe(
      "pruner.maxAgeByState.completed",
    );
  });

  test("listOptions walks every nested key, with <name> and [] placeholders", () => {
    const paths = listOptions(schema).map(
      (o) => `${o.segments.join(".")}${o.code ? " (code)" : ""}`,
    );
    expect(paths).toEqual([
      "cron",
      "cron.[].expression",
      "cron.[].worker",
      "cron.[].args",
      "cron.[].maxAttempts",
      "pruner",
      "pruner.maxAge",
      "pruner.maxAgeByState",
      "pruner.maxAgeByState.completed",
      "targets",
      "targets.<name>",
      "targets.<name>.runTimeout",
      "logger (code)",
    ]);
  });
});
