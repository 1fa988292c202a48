// Bad input, table-driven: every case gets a clear error naming what is wrong, nothing is
// half-written, and no SQL is ever built from it.
import { describe, expect, test } from "vitest";
import {
  ArgsError,
  ConfigError,
  DocketError,
  defineWorker,
  InsertError,
  Migrator,
  NotMigratedError,
  type Plugin,
  Queue,
  type QueueOptions,
  QueueStateError,
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

describe("a failed start()", () => {
  const rows = async (node: string) => {
    const [row] = await db.sql<{ leaders: number; producers: number }[]>`
      SELECT (SELECT count(*)::int FROM docket.leaders WHERE node = ${node}) AS leaders,
             (SELECT count(*)::int FROM docket.producers WHERE node = ${node}) AS producers`;
    return row;
  };

  test("on an unmigrated schema: NotMigratedError saying to migrate, every time; after migrate it starts", async () => {
    await db.sql`DROP SCHEMA IF EXISTS unmigrated CASCADE`;
    const q = makeQueue({ schema: "unmigrated", queues: { default: 1 } });
    for (let i = 0; i < 2; i++) {
      const error = await q.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotMigratedError);
      expect((error as Error).message).toMatch(/schema "unmigrated".*run `docket migrate`/);
    }
    await q.migrate();
    await q.start();
    expect(q.checkQueue("default")).not.toBeNull();
  });

  test("a step that fails is undone (heartbeat rows gone) and start() can be retried", async () => {
    let fail = true;
    const flaky: Plugin = {
      name: "flaky",
      async start() {
        if (fail) throw new Error("plugin could not start");
      },
      async stop() {},
    };
    const node = "retry-node";
    const q = makeQueue({ node, queues: { default: 1 }, plugins: [flaky] });
    await expect(q.start()).rejects.toThrow("plugin could not start");
    expect(await rows(node)).toEqual({ leaders: 0, producers: 0 });
    fail = false;
    await q.start();
    expect((await rows(node))?.producers).toBe(1);
  });

  test("stop() during start(): start rejects with QueueStateError and no leaders row is left", async () => {
    let release = () => {};
    let entered = () => {};
    const inPlugin = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slow: Plugin = {
      name: "slow",
      start: () =>
        new Promise<void>((resolve) => {
          release = resolve;
          entered();
        }),
      async stop() {},
    };
    const node = "stopped-while-starting";
    const q = makeQueue({ node, queues: { default: 1 }, plugins: [slow] });
    const starting = q.start().catch((e: unknown) => e);
    await inPlugin;
    const stopping = q.stop();
    release();
    const error = await starting;
    await stopping;
    expect(error).toBeInstanceOf(QueueStateError);
    expect((error as Error).message).toContain("stop() was called while it ran");
    expect(await rows(node)).toEqual({ leaders: 0, producers: 0 });
  });
});

describe("input PostgreSQL cannot store gets a docket error naming the field", () => {
  const worker = defineWorker({ name: "StoreCheck", perform: async () => {} });
  const deep = () => {
    let value: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 10_000; i++) value = { next: value };
    return value;
  };
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ["NUL in args", () => makeQueue().insert(worker, { s: "a\u0000b" }), /args\.s holds a NUL/],
    [
      "lone surrogate in args",
      () => makeQueue().insert(worker, { s: "cut \ud83d" }),
      /args\.s holds a lone UTF-16 surrogate/,
    ],
    [
      "NUL in an args key",
      () => makeQueue().insert(worker, { "k\u0000": 1 }),
      /args has a key that holds a NUL/,
    ],
    [
      "NUL in a tag",
      () => makeQueue().insert(worker, {}, { tags: ["a\u0000"] }),
      /tags\[0\]: holds a NUL/,
    ],
    [
      "lone surrogate in a tag",
      () => makeQueue().insert(worker, {}, { tags: ["\udc00"] }),
      /tags\[0\]: holds a lone UTF-16 surrogate/,
    ],
    [
      "NUL in meta",
      () => makeQueue().insert(worker, {}, { meta: { note: "\u0000" } }),
      /meta\.note holds a NUL/,
    ],
    [
      "args nested 10,000 deep",
      () => makeQueue().insert(worker, deep()),
      /nests deeper than 100 levels/,
    ],
    [
      "year 10000 in scheduledAt",
      () => makeQueue().insert(worker, {}, { scheduledAt: new Date("+010000-01-01T00:00:00Z") }),
      /scheduledAt: must be before the year 10000/,
    ],
    [
      "meta over 64 KiB",
      () => makeQueue().insert(worker, {}, { meta: { blob: "x".repeat(70_000) } }),
      /meta is \d+ bytes as JSON, over the limit of 65536/,
    ],
  ];
  test.each(cases)("%s", async (_name, insert, message) => {
    const before = await jobCount();
    const error = await insert().catch((e: unknown) => e);
    expect(error, String(error)).toBeInstanceOf(DocketError);
    expect((error as Error).message).toMatch(message);
    expect(await jobCount()).toBe(before);
  });

  test("a NUL in the node name is a ConfigError at construction", () => {
    expect(() => new Queue({ connection: db.url, node: "web\u0000-1" })).toThrow(
      /node: holds a NUL/,
    );
  });
});

describe("errors that say what to do", () => {
  test("a bad connection string is a ConfigError, not TypeError: Invalid URL", () => {
    let error: unknown;
    try {
      new Queue({ connection: "postgres://user:pa#ss@host:notaport/db" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(
      /connection: not a valid PostgreSQL connection string/,
    );
    expect((error as ConfigError).message).not.toContain("pa#ss");
  });

  test("a missing table (42P01) says to migrate", async () => {
    await db.sql`DROP SCHEMA IF EXISTS empty_schema CASCADE`;
    await db.sql`CREATE SCHEMA empty_schema`;
    const q = makeQueue({ schema: "empty_schema" });
    for (const call of [() => q.insert("Anything", {}), () => q.getJob(1), () => q.listJobs()]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotMigratedError);
      expect((error as Error).message).toMatch(/run `docket migrate`/);
    }
  });

  test('getJob("abc") and cancelJob("abc") throw the same error class', async () => {
    const q = makeQueue();
    const get = await q.getJob("abc").catch((e: unknown) => e);
    const cancel = await q.cancelJob("abc").catch((e: unknown) => e);
    expect(get).toBeInstanceOf(ConfigError);
    expect(cancel).toBeInstanceOf(ConfigError);
    expect((get as Error).message).toBe('getJob: "abc" is not a job id');
  });

  test("admin calls after stop() throw a QueueStateError, not CONNECTION_ENDED", async () => {
    const q = new Queue({ connection: db.url, poolSize: 2 });
    await q.getJob(1);
    await q.stop();
    for (const call of [
      () => q.getJob(1),
      () => q.listJobs(),
      () => q.cancelJob(1),
      () => q.pauseQueue("default"),
      () => q.queueLimits("default"),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueStateError);
      expect((error as Error).message).toMatch(/after stop\(\)/);
    }
  });
});
