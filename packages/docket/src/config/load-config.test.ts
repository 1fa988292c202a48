import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { defineCleanupTarget } from "../cleanup/define-target.js";
import { ConfigError } from "../errors.js";
import { type LoadConfigOptions, loadConfig } from "./load-config.js";

const url = "postgres://file-host/app";

/** Writes a config file in a folder of its own and returns its path. */
function configFile(text: string, name = "docket.toml"): string {
  const path = join(mkdtempSync(join(tmpdir(), "docket-config-")), name);
  writeFileSync(path, text);
  return path;
}

/** Loads with an explicit environment, so that the test runner's own variables do not count. */
function load(path: string, options: LoadConfigOptions = {}) {
  return loadConfig(path, { env: {}, ...options });
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("the config file", () => {
  test("snake_case keys map onto constructor options; names the user chose are kept", async () => {
    const path = configFile(`
      database_url = "${url}"
      schema = "jobs_here"
      poll_interval = "500ms"
      shutdown_grace = 30
      ack_batch_size = 250

      [queues]
      default = 10
      bulk_import = { limit = 2, poll_interval = "5s" }

      [cleanup.DeploymentLogRecord]
      schedule = "0 * * * *"
      timeout = "10m"
    `);
    const { options, file } = await load(path);
    expect(file).toBe(path);
    expect(options).toEqual({
      connection: url,
      schema: "jobs_here",
      pollInterval: "500ms",
      shutdownGrace: 30,
      ackBatchSize: 250,
      queues: { default: 10, bulk_import: { limit: 2, pollInterval: "5s" } },
      cleanup: { DeploymentLogRecord: { schedule: "0 * * * *", timeout: "10m" } },
    });
  });

  test("nested option tables convert too, and `false` turns a plugin off", async () => {
    const path = configFile(`
      database_url = "${url}"
      lifeline = false
      [pruner]
      max_age = 86_400
      max_age_by_state = { discarded = "7d" }
    `);
    const { options } = await load(path);
    expect(options.lifeline).toBe(false);
    expect(options.pruner).toEqual({ maxAge: 86_400, maxAgeByState: { discarded: "7d" } });
  });

  test("modules are resolved against the file's folder", async () => {
    const path = configFile(
      `database_url = "${url}"\nmodules = ["./dist/workers.js", "/abs/jobs.js"]\n`,
    );
    const { modules } = await load(path);
    expect(modules).toEqual([join(path, "..", "dist/workers.js"), "/abs/jobs.js"]);
  });

  test("a missing file is an error unless it is optional", async () => {
    const path = join(tmpdir(), "no-such-dir-docket", "docket.toml");
    expect((await configError(load(path))).message).toBe(`config file ${path} not found`);
    const { options, file } = await load(path, { optional: true, env: { DATABASE_URL: url } });
    expect(file).toBeUndefined();
    expect(options.connection).toBe(url);
  });
});

describe("the environment", () => {
  const file = () =>
    configFile(`
      database_url = "${url}"
      schema = "from_file"
      node = "file-node"
      [queues]
      default = 10
      mailers = 5
      [cleanup.DeploymentLogRecord]
      timeout = "10m"
    `);

  test("DOCKET_DATABASE_URL wins over DATABASE_URL, which wins over the file", async () => {
    const path = file();
    expect(
      (await load(path, { env: { DATABASE_URL: "postgres://env/b" } })).options.connection,
    ).toBe("postgres://env/b");
    const both = { DATABASE_URL: "postgres://env/b", DOCKET_DATABASE_URL: "postgres://env/a" };
    expect((await load(path, { env: both })).options.connection).toBe("postgres://env/a");
    expect((await load(path, { env: { DATABASE_URL: "  " } })).options.connection).toBe(url);
  });

  test("DOCKET_SCHEMA, DOCKET_NODE and DOCKET_QUEUES override the file; the queue list replaces the file's", async () => {
    const env = {
      DOCKET_SCHEMA: "from_env",
      DOCKET_NODE: "env-node",
      DOCKET_QUEUES: " default:20, reports:1 ",
    };
    const { options } = await load(file(), { env });
    expect(options.schema).toBe("from_env");
    expect(options.node).toBe("env-node");
    expect(options.queues).toEqual({ default: 20, reports: 1 });
  });

  test("CLEANUP_<TARGET>_CRON and _TIMEOUT set the target's schedule and timeout", async () => {
    const env = {
      CLEANUP_DEPLOYMENT_LOG_RECORD_CRON: "*/5 * * * *",
      CLEANUP_OIDC_STATE_CRON: "0 * * * *",
      CLEANUP_OIDC_STATE_TIMEOUT: "1m",
      CLEANUP_ARTIFACT_BLOB_MIN_AGE: "24h",
    };
    const { options } = await load(file(), { env, cleanupTargets: ["OIDCState"] });
    expect(options.cleanup).toEqual({
      DeploymentLogRecord: { schedule: "*/5 * * * *", timeout: "10m" },
      OIDCState: { schedule: "0 * * * *", timeout: "1m" },
    });
  });

  test("a target no source names is spelled in PascalCase", async () => {
    const { options } = await load(file(), { env: { CLEANUP_TEMP_FILES_CRON: "@hourly" } });
    expect(options.cleanup).toMatchObject({ TempFiles: { schedule: "@hourly" } });
  });

  test("process.env is read when loading, not when the module was imported", async () => {
    process.env.DOCKET_NODE = "set-after-import";
    try {
      const { options } = await loadConfig(file());
      expect(options.node).toBe("set-after-import");
    } finally {
      delete process.env.DOCKET_NODE;
    }
  });
});

describe("overrides passed in code", () => {
  test("win over the environment and the file, merging option tables key by key", async () => {
    const path = configFile(`
      database_url = "${url}"
      poll_interval = 2
      node = "file-node"
      [queues]
      default = 10
      [pruner]
      max_age = "2d"
      limit = 50
    `);
    const { options } = await load(path, {
      env: { DOCKET_DATABASE_URL: "postgres://env/a", DOCKET_SCHEMA: "from_env" },
      overrides: {
        connection: "postgres://code/c",
        schema: "from_code",
        node: undefined,
        pruner: { limit: 500 },
      },
    });
    expect(options.connection).toBe("postgres://code/c");
    expect(options.schema).toBe("from_code");
    expect(options.node).toBe("file-node");
    expect(options.pollInterval).toBe(2);
    expect(options.queues).toEqual({ default: 10 });
    expect(options.pruner).toEqual({ maxAge: "2d", limit: 500 });
  });

  test("queues from code replace the list of the file and the environment", async () => {
    const path = configFile(`database_url = "${url}"\n[queues]\ndefault = 10\nmailers = 5\n`);
    const env = { DOCKET_QUEUES: "reports:2" };
    expect(
      (await load(path, { env, overrides: { queues: { mailers: 20 } } })).options.queues,
    ).toEqual({
      mailers: 20,
    });
    expect((await load(path, { env, overrides: { queues: {} } })).options.queues).toEqual({});
    expect((await load(path, { env })).options.queues).toEqual({ reports: 2 });
  });

  test("cleanup targets passed as a list keep the file's settings for them", async () => {
    const logRecords = defineCleanupTarget({
      name: "DeploymentLogRecord",
      table: "deployment_log_record",
      maxAge: { column: "created_at", olderThan: "24h" },
    });
    const path = configFile(
      `database_url = "${url}"\n[cleanup.DeploymentLogRecord]\nschedule = "0 * * * *"\n`,
    );
    const { options } = await load(path, {
      env: { CLEANUP_DEPLOYMENT_LOG_RECORD_TIMEOUT: "5m" },
      overrides: { cleanup: [logRecords] },
    });
    expect(options.cleanup).toEqual({
      DeploymentLogRecord: { schedule: "0 * * * *", timeout: "5m", target: logRecords },
    });
  });

  test("an override can supply the database URL when the file has none", async () => {
    const path = configFile("[queues]\ndefault = 3\n");
    const { options } = await load(path, { overrides: { connection: url } });
    expect(options.connection).toBe(url);
  });
});

describe("errors people can act on", () => {
  test("a file with several problems reports every one of them at once", async () => {
    const path = configFile(
      `database_url = "${url}"\npruner_x = 1\npoll_interval = "soon"\n[queues]\ndefault = "ten"\n`,
    );
    const error = await configError(load(path));
    expect(error.message).toContain("pruner_x: unknown option");
    expect(error.message).toContain("poll_interval");
    expect(error.message).toContain("queues.default");
  });

  test("a TOML syntax error gives the file, line and column", async () => {
    const path = configFile(`database_url = "${url}"\n[queues]\ndefault = = 10\n`);
    const error = await configError(load(path));
    expect(error.message).toBe(`${path}:3:11: invalid TOML: invalid value`);
  });

  test("an unknown key is named as written, with the closest known key suggested", async () => {
    const path = configFile(
      `database_url = "${url}"\nshutdown_grase = 5\n[queues.mailers]\nlimt = 5\n`,
    );
    const error = await configError(load(path));
    expect(error.message).toContain(
      `${path}: shutdown_grase: unknown option (did you mean "shutdown_grace"?)`,
    );
    expect(error.message).toContain(
      `${path}: queues.mailers.limt: unknown option (did you mean "limit"?)`,
    );
    expect(error.path).toBe("shutdown_grase");
  });

  test("pruner.max_age: the path is shown as the file spells it, or as the code does", async () => {
    const typo = configFile(`database_url = "${url}"\n[pruner]\nmax_agee = 5\n`);
    expect((await configError(load(typo))).message).toBe(
      `${typo}: pruner.max_agee: unknown option (did you mean "max_age"?)`,
    );
    const wrong = configFile(`database_url = "${url}"\n[pruner]\nmax_age = "a day"\n`);
    const fromFile = await configError(load(wrong));
    expect(fromFile.path).toBe("pruner.max_age");
    expect(fromFile.message).toMatch(
      new RegExp(`^${wrong}: pruner\\.max_age: expected a duration`),
    );
    const fromCode = await configError(
      load(typo.replace(/[^/]+$/, "none.toml"), {
        optional: true,
        overrides: { connection: url, pruner: { maxAge: "a day" } },
      }),
    );
    expect(fromCode.path).toBe("pruner.maxAge");
    expect(fromCode.message).toMatch(/^pruner\.maxAge: expected a duration/);
  });

  test("a camelCase key in the file is pointed to its snake_case spelling", async () => {
    const path = configFile(`database_url = "${url}"\npollInterval = 5\n`);
    expect((await configError(load(path))).message).toContain(
      'pollInterval: unknown option (did you mean "poll_interval"?)',
    );
  });

  test("a database URL under the constructor's name is pointed to database_url", async () => {
    const path = configFile(`connection = "${url}"\n`);
    expect((await configError(load(path))).message).toBe(
      `${path}: connection: unknown option (the database URL is "database_url")`,
    );
  });

  test("a wrong type names the path as the file spells it and what was expected", async () => {
    const path = configFile(`
      database_url = "${url}"
      [queues]
      mailers = { limit = "five", poll_interval = "soon" }
      other = "ten"
    `);
    const error = await configError(load(path));
    expect(error.path).toBe("queues.mailers.limit");
    expect(error.message).toContain(
      `${path}: queues.mailers.limit: Invalid input: expected number, received string`,
    );
    expect(error.message).toContain(`${path}: queues.mailers.poll_interval: expected a duration`);
    expect(error.message).toContain(
      `${path}: queues.other: expected number or object, received string`,
    );
  });

  test("file-only keys are checked too", async () => {
    const path = configFile(`database_url = 5\nmodules = "workers.js"\n`);
    const error = await configError(load(path));
    expect(error.message).toContain(
      `${path}: database_url: Invalid input: expected string, received number`,
    );
    expect(error.message).toContain(
      `${path}: modules: Invalid input: expected array, received string`,
    );
  });

  test("options that take code cannot be set in the file", async () => {
    const path = configFile(`database_url = "${url}"\nworkers = ["email.send"]\n`);
    expect((await configError(load(path))).message).toMatch(
      /workers: takes JavaScript values, so it cannot be set in a config file; list the files that export your workers in "modules"/,
    );
  });

  test("a missing database URL says where one can come from", async () => {
    const path = configFile("[queues]\ndefault = 10\n");
    const error = await configError(load(path));
    expect(error.path).toBe("connection");
    expect(error.message).toBe(
      `no database URL: set database_url in ${path}, the DOCKET_DATABASE_URL or DATABASE_URL environment variable, or pass connection in code`,
    );
  });

  test("a bad value from the environment names the variable", async () => {
    const path = configFile(`database_url = "${url}"\n`);
    expect(
      (await configError(load(path, { env: { DOCKET_QUEUES: "default:10,mailers" } }))).message,
    ).toBe('DOCKET_QUEUES: "mailers" is not name:limit; write it like "default:10,mailers:5"');
    expect(
      (await configError(load(path, { env: { DOCKET_QUEUES: "default:0" } }))).message,
    ).toMatch(/^DOCKET_QUEUES: queues\.default: /);
    expect((await configError(load(path, { env: { DOCKET_SCHEMA: "Bad-Name" } }))).message).toMatch(
      /^DOCKET_SCHEMA: schema: .*not a valid identifier/,
    );
    const timeout = await configError(load(path, { env: { CLEANUP_LOGS_TIMEOUT: "soon" } }));
    expect(timeout.message).toMatch(
      /^CLEANUP_LOGS_TIMEOUT: cleanup\.Logs\.timeout: expected a duration/,
    );
  });

  test("a bad override is named as the constructor spells it", async () => {
    const path = configFile(`database_url = "${url}"\n`);
    const error = await configError(
      load(path, {
        overrides: {
          queues: { mailers: { limit: 1, pollInterval: "soon" } },
          pollIntervall: 1,
        } as never,
      }),
    );
    expect(error.message).toContain("queues.mailers.pollInterval: expected a duration");
    expect(error.message).toContain('pollIntervall: unknown option (did you mean "pollInterval"?)');
  });
});
