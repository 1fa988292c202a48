import { describe, expect, test } from "vitest";
import { ConfigError, defineWorker, parseDuration, Queue } from "./index.js";
import { defaultBackoff } from "./workers/backoff.js";

const url = "postgres://localhost:1/none";

function configError(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("queue options", () => {
  test("an unknown option is named, with the intended key suggested", () => {
    const error = configError(() => new Queue({ connection: url, queus: { default: 1 } } as never));
    expect(error.message).toMatch(/queus: unknown option \(did you mean "queues"\?\)/);
    expect(error.code).toBe("CONFIG_INVALID");
  });

  test("a wrong type names the path and what was expected", () => {
    const error = configError(
      () => new Queue({ connection: url, queues: { mailers: { limit: "ten" } } } as never),
    );
    expect(error.path).toBe("queues.mailers.limit");
    expect(error.message).toMatch(/queues\.mailers\.limit/);
  });

  test("a PostgreSQL system schema is refused as docket's schema", () => {
    for (const schema of ["information_schema", "pg_catalog", "pg_toast"]) {
      const error = configError(() => new Queue({ connection: url, schema }));
      expect(error.message).toContain(`schema "${schema}" belongs to PostgreSQL`);
    }
  });

  test("bad durations, schemas and missing connections are refused at construction", () => {
    expect(configError(() => new Queue({ connection: url, pollInterval: "soon" })).message).toMatch(
      /pollInterval: expected a duration/,
    );
    expect(configError(() => new Queue({ connection: url, schema: "bad-name" })).path).toBe(
      "schema",
    );
    expect(configError(() => new Queue({} as never)).path).toBe("connection");
  });

  test("two workers with one name are refused", () => {
    const a = defineWorker({ name: "same", perform: () => {} });
    expect(configError(() => new Queue({ connection: url, workers: [a, a] })).message).toMatch(
      /"same"/,
    );
  });

  test("defineWorker checks its options and names the worker", () => {
    const bad = configError(() => defineWorker({ name: "w1", priority: 12, perform: () => {} }));
    expect(bad.message).toMatch(/worker "w1"\.priority/);
    const typo = configError(() =>
      defineWorker({ name: "w2", maxAttempt: 3, perform: () => {} } as never),
    );
    expect(typo.message).toMatch(/did you mean "maxAttempts"/);
    expect(() => defineWorker({ name: "", perform: () => {} })).toThrow(/name/);
  });
});

describe("durations and backoff", () => {
  test("durations are seconds or strings with a unit", () => {
    expect(parseDuration(30)).toBe(30_000);
    expect(parseDuration(0.5)).toBe(500);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("12")).toBe(12_000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });

  test("default backoff is 15 + 2^attempt seconds plus at most 10%", () => {
    expect(defaultBackoff(1, () => 0)).toBe(17);
    expect(defaultBackoff(1, () => 1)).toBeCloseTo(18.7);
    expect(defaultBackoff(5, () => 0)).toBe(47);
  });
});
