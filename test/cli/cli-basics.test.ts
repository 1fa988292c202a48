// The docket command's surface: help, version, and one-line failures with their exit codes.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { hasNoStackTrace, root, runCli } from "./cli-process.js";

function tempConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "docket-cli-")), "docket.toml");
  writeFileSync(path, text);
  return path;
}

describe("docket --help and --version", () => {
  test("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(root, "packages/cli/package.json"), "utf8"));
    const result = await runCli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  test("--help lists the commands with examples, and each command has its own", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    for (const command of ["migrate", "start", "status"])
      expect(top.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, "m"));
    expect(top.stdout).toContain("Examples:");
    const migrate = await runCli(["migrate", "--help"]);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toContain("--status");
    expect(migrate.stdout).toContain("--down <n>");
    expect(migrate.stdout).toContain("--config <path>");
    expect(migrate.stdout).toContain("--json");
  });
});

describe("failures are one line and exit non-zero", () => {
  test("an unknown command suggests the closest one, exit code 2", async () => {
    const result = await runCli(["statsu"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("docket: unknown command 'statsu' (Did you mean status?)\n");
  });

  test("a bad option value names the option", async () => {
    const result = await runCli(["migrate", "--down", "two"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("--down <n>");
  });

  test("a TOML syntax error gives file, line and column; --json adds one error document on stdout", async () => {
    const path = tempConfig('database_url = "postgres://x/y"\nschema = \n');
    const result = await runCli(["status", "--config", path, "--json"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`docket: ${path}:2:10: invalid TOML: invalid value\n`);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: "CONFIG_INVALID",
        message: expect.stringContaining(`${path}:2:10: invalid TOML`),
      },
    });
  });

  test("an unknown key and a wrong type are named as the file spells them", async () => {
    const path = tempConfig('database_url = "postgres://x/y"\n[pruner]\nmax_agee = 5\n');
    const typo = await runCli(["migrate", "--config", path]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe(
      `docket: ${path}: pruner.max_agee: unknown option (did you mean "max_age"?)\n`,
    );
    const wrong = tempConfig('database_url = "postgres://x/y"\n[queues]\ndefault = "ten"\n');
    const type = await runCli(["start", "--config", wrong]);
    expect(type.code).toBe(2);
    expect(type.stderr).toBe(
      `docket: ${wrong}: queues.default: expected number or object, received string\n`,
    );
  });

  test("a missing --config file and a missing database URL say what to do", async () => {
    const missing = await runCli(["status", "--config", "nope/docket.toml"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("docket: config file nope/docket.toml not found\n");
    const cwd = mkdtempSync(join(tmpdir(), "docket-cli-empty-"));
    const noUrl = await runCli(["migrate"], { cwd });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(
      /^docket: no database URL: set database_url in .*DOCKET_DATABASE_URL or DATABASE_URL/,
    );
  });

  test("an unreachable database is a one-line failure with exit code 1", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "docket-cli-empty-"));
    const result = await runCli(["status"], {
      cwd,
      env: { DATABASE_URL: "postgres://127.0.0.1:1/none" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^docket: cannot reach the database: .*ECONNREFUSED.*\n$/);
    expect(hasNoStackTrace(result.stderr)).toBe(true);
  });
});
