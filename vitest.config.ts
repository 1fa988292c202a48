import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/**/src/**/*.test.ts", "test/**/*.test.ts"],
    // Fixtures are test files meant to be run by other tests (test/red-run.test.ts), not directly.
    exclude: ["**/node_modules/**", "**/dist/**", "test/fixtures/**"],
    environment: "node",
    // One PostgreSQL server and a migrated template database for the whole run.
    globalSetup: ["test/setup/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 60_000,
    // Separate processes: tests start queues, timers and connections that must not leak
    // between files. Each file has its own database, so files run in parallel; most time is
    // spent waiting on Postgres, so use at least two workers even on a two-core machine.
    pool: "forks",
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
