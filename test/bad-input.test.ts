// Bad input, table-driven: every case gets a clear error naming what is wrong, nothing is
// half-written, and no SQL is ever built from it.
import { describe, expect, test } from "vitest";
import {
  ArgsError,
  ConfigError,
  defineWorker,
  InsertError,
  Migrator,
  Queue,
  type QueueOptions,
} from "../packages/docket/src/index.js";
import { useTestDatabase } from "./support/database.js";
import { queueFactory } from "./support/queues.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

const injections = [
  'docket"; DROP TABLE docket.jobs; --',
  "docket; DROP TABLE docket.jobs",
  "Docket",
  "1docket",
  "doc ket",
  "a".repeat(64),
  "",
];

async function jobCount(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM docket.jobs`;
  return row?.n ?? 0;
}

describe("malformed constructor options", () => {
  const url = "postgres://localhost:1/none";
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "unknown key",
      { connection: url, pruner: { maxAgee: 1 } },
      /pruner\.maxAgee: unknown option \(did you mean "maxAge"\?\)/,
    ],
    ["wrong type", { connection: url, queues: { default: "ten" } }, /queues\.default/],
    ["negative limit", { connection: url, queues: { default: -1 } }, /queues\.default/],
    [
      "bad duration",
      { connection: url, stageInterval: "fast" },
      /stageInterval: expected a duration/,
    ],
    ["queue name too long", { connection: url, queues: { ["q".repeat(129)]: 1 } }, /queues/],
    ["queue name with spaces", { connection: url, queues: { "my queue": 1 } }, /queues/],
    [
      "not a worker",
      { connection: url, workers: [{ name: "x" }] },
      /workers\[0\]: must be a worker/,
    ],
    ["no connection", {}, /connection/],
    ["connection of the wrong kind", { connection: 42 }, /connection/],
  ];
  test.each(cases)("%s", (_name, options, message) => {
    expect(() => new Queue(options as unknown as QueueOptions)).toThrow(ConfigError);
    expect(() => new Queue(options as unknown as QueueOptions)).toThrow(message);
  });

  test.each(injections)("schema %j is refused before any SQL", async (schema) => {
    expect(() => new Queue({ connection: db.url, schema })).toThrow(/schema/);
    expect(() => new Migrator(db.sql, schema)).toThrow(/schema|identifier/);
    await expect(jobCount()).resolves.toEqual(expect.any(Number)); // docket.jobs still exists
  });
});

describe("malformed args and names at insert", () => {
  const worker = defineWorker({ name: "plain", perform: () => {} });
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const cases: [string, unknown, RegExp][] = [
    ["BigInt", { id: 1n }, /args\.id is a BigInt/],
    ["cycle", cycle, /refers back to itself/],
    ["undefined in an array", { xs: [1, undefined, 3] }, /args\.xs\[1\] is undefined/],
    ["function", { fn: () => 1 }, /args\.fn is a function/],
    ["symbol", { s: Symbol("x") }, /args\.s is a symbol/],
    ["Infinity", { n: Number.POSITIVE_INFINITY }, /args\.n is Infinity/],
    ["class instance", { m: new Map() }, /args\.m is a Map/],
    ["array instead of object", [1, 2], /must be a plain object/],
    ["string instead of object", "hello", /must be a plain object/],
  ];
  test.each(cases)("%s", async (_name, args, message) => {
    const queue = makeQueue();
    const before = await jobCount();
    await expect(queue.insert(worker, args as Record<string, unknown>)).rejects.toThrow(ArgsError);
    await expect(
      queue.insertMany(worker, [{ ok: 1 }, args as Record<string, unknown>]),
    ).rejects.toThrow(message);
    expect(await jobCount()).toBe(before);
  });

  test("args over the configured limit", async () => {
    const queue = makeQueue({ maxArgsBytes: 100 });
    const before = await jobCount();
    await expect(queue.insertMany(worker, [{}, { text: "x".repeat(200) }])).rejects.toThrow(
      /maxArgsBytes/,
    );
    expect(await jobCount()).toBe(before);
  });

  const names: [string, unknown][] = [
    ["empty", ""],
    ["too long", "w".repeat(129)],
    ["with a space", "send email"],
    ["with SQL", "x'); DROP TABLE docket.jobs; --"],
    ["not a string", 42],
  ];
  test.each(names)("worker name %s is refused at definition", (_name, name) => {
    expect(() => defineWorker({ name: name as string, perform: () => {} })).toThrow(ConfigError);
  });
  test.each(names)("queue name %s is refused at insert", async (_name, queue) => {
    const q = makeQueue();
    const before = await jobCount();
    await expect(q.insert(worker, {}, { queue: queue as string })).rejects.toThrow(InsertError);
    expect(await jobCount()).toBe(before);
  });

  test.each(names)("worker name %s given as a string is refused at insert", async (_name, name) => {
    const q = makeQueue();
    const before = await jobCount();
    await expect(q.insert(name as string, {})).rejects.toThrow(InsertError);
    expect(await jobCount()).toBe(before);
  });
});
