// Args schemas from every Standard Schema library docket documents (zod 4, zod 3, valibot,
// arktype), each run through a real queue: what is stored is what the schema returns, a bad
// insert names the worker and field, and perform receives the schema's output.

import type { StandardSchemaV1 } from "@standard-schema/spec";
import { type } from "arktype";
import * as v from "valibot";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { z as z3 } from "zod3";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { ArgsError, ConfigError, defineWorker, type Job } from "../index.js";
import { drainQueue } from "../testing/index.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);

/** The same args in each library: `to` an email, `cc` defaulting to an empty list. */
const schemas = {
  "zod 4": z.object({ to: z.email(), cc: z.array(z.string()).default([]) }),
  "zod 3": z3.object({ to: z3.string().email(), cc: z3.array(z3.string()).default([]) }),
  valibot: v.object({ to: v.pipe(v.string(), v.email()), cc: v.optional(v.array(v.string()), []) }),
  arktype: type({ "+": "delete", to: "string.email", cc: type("string[]").default(() => []) }),
};

async function storedArgs(id: string): Promise<unknown> {
  const [row] = await db.sql<{ args: unknown }[]>`SELECT args FROM docket.jobs WHERE id = ${id}`;
  return row?.args;
}

describe.each(Object.entries(schemas))("args checked by %s", (library, schema) => {
  const name = `mail.${library.replace(" ", "")}`;
  const seen: { to: string; cc: string[] }[] = [];
  const worker = defineWorker({
    name,
    args: schema,
    perform(job) {
      seen.push(job.args);
    },
  });

  test("stores what the schema returns: defaults filled in, undeclared keys dropped", async () => {
    const queue = makeQueue({ workers: [worker] });
    const extra = { to: "a@example.com", stray: 1 } as { to: string };
    const job = await queue.insert(worker, extra);
    expect(job.args).toEqual({ to: "a@example.com", cc: [] });
    expect(await storedArgs(job.id)).toEqual({ to: "a@example.com", cc: [] });
    const [many] = await queue.insertMany(worker, [{ to: "b@example.com", cc: ["c@example.com"] }]);
    expect(await storedArgs(many?.id as string)).toEqual({
      to: "b@example.com",
      cc: ["c@example.com"],
    });
    seen.length = 0;
    await drainQueue(queue);
    expect(seen).toEqual(
      expect.arrayContaining([
        { to: "a@example.com", cc: [] },
        { to: "b@example.com", cc: ["c@example.com"] },
      ]),
    );
  });

  test("a bad insert throws ArgsError naming the worker and the field, and stores nothing", async () => {
    const queue = makeQueue({ workers: [worker] });
    const error = await queue.insert(worker, { to: "not an address" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArgsError);
    expect((error as ArgsError).worker).toBe(name);
    expect((error as Error).message).toMatch(
      new RegExp(`^args for worker "${name}" are invalid: to: `),
    );
    const [row] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM docket.jobs WHERE worker = ${name} AND args->>'to' = 'not an address'`;
    expect(row?.n).toBe(0);
  });

  test("stored args that no longer fit are discarded with the field named", async () => {
    const queue = makeQueue({ workers: [worker] });
    const [row] = await db.sql<{ id: string }[]>`
      INSERT INTO docket.jobs (queue, worker, args) VALUES ('default', ${name}, '{"to": 5}')
      RETURNING id::text`;
    await drainQueue(queue);
    const job = await queue.getJob(row?.id as string);
    expect(job?.state).toBe("discarded");
    expect(job?.errors[0]?.error).toMatch(`stored args no longer fit worker "${name}": to: `);
  });
});

describe("what the schema says about extra keys", () => {
  const cases = [
    ["z.object drops them", z.object({ a: z.number() }), { a: 1 }],
    ["z.looseObject keeps them", z.looseObject({ a: z.number() }), { a: 1, b: 2 }],
    ["arktype keeps them unless told", type({ a: "number" }), { a: 1, b: 2 }],
  ] as const;
  test.each(cases)("%s", async (_, schema, stored) => {
    const worker = defineWorker({ name: "extra.keys", args: schema, perform() {} });
    const queue = makeQueue({ workers: [worker] });
    const job = await queue.insert(worker, { a: 1, b: 2 } as { a: number });
    expect(await storedArgs(job.id)).toEqual(stored);
  });

  test("a strict object refuses them at insert", async () => {
    const worker = defineWorker({
      name: "extra.strict",
      args: z.strictObject({ a: z.number() }),
      perform() {},
    });
    const queue = makeQueue({ workers: [worker] });
    await expect(queue.insert(worker, { a: 1, b: 2 } as { a: number })).rejects.toThrow(
      /args for worker "extra\.strict" are invalid: \(args\): Unrecognized key: "b"/,
    );
  });
});

describe("async and hand-written schemas", () => {
  test("an async refinement is awaited at insert and before perform", async () => {
    const taken = new Set(["taken"]);
    const schema = z.object({
      user: z.string().refine(async (user) => !taken.has(user), "is taken"),
    });
    const ran: string[] = [];
    const worker = defineWorker({
      name: "signup.async",
      args: schema,
      perform(job) {
        ran.push(job.args.user);
      },
    });
    const queue = makeQueue({ workers: [worker] });
    await expect(queue.insert(worker, { user: "taken" })).rejects.toThrow(
      'args for worker "signup.async" are invalid: user: is taken',
    );
    const jobs = await queue.insertMany(worker, [{ user: "ada" }, { user: "grace" }]);
    expect(jobs.map((job) => job.args)).toEqual([{ user: "ada" }, { user: "grace" }]);
    taken.add("grace"); // now the second no longer fits when it runs
    expect(await drainQueue(queue)).toMatchObject({ completed: 1, discarded: 1 });
    expect(ran).toEqual(["ada"]);
  });

  test("any object with a `~standard` validate works (another copy, another library)", async () => {
    const schema: StandardSchemaV1<{ n: number }, { n: number; doubled: number }> = {
      "~standard": {
        version: 1,
        vendor: "hand-written",
        validate(value) {
          const n = (value as { n?: unknown }).n;
          if (typeof n !== "number")
            return { issues: [{ message: "must be a number", path: [{ key: "n" }] }] };
          return { value: { n, doubled: n * 2 } };
        },
      },
    };
    const worker = defineWorker({ name: "hand.written", args: schema, perform() {} });
    const queue = makeQueue({ workers: [worker] });
    const job: Job<{ n: number; doubled: number }> = await queue.insert(worker, { n: 2 });
    expect(await storedArgs(job.id)).toEqual({ n: 2, doubled: 4 });
    await expect(queue.insert(worker, { n: "2" } as unknown as { n: number })).rejects.toThrow(
      'args for worker "hand.written" are invalid: n: must be a number',
    );
  });

  test("something that is not a Standard Schema is refused at defineWorker", () => {
    expect(() =>
      defineWorker({
        name: "not.schema",
        args: { parse: (x: unknown) => x } as never,
        perform() {},
      }),
    ).toThrow(ConfigError);
    expect(() =>
      defineWorker({
        name: "not.schema",
        args: { parse: (x: unknown) => x } as never,
        perform() {},
      }),
    ).toThrow(/args: must be a Standard Schema \(zod, valibot, arktype…\)/);
  });
});
