// Type tests: `tsc` checks this file in `pnpm run lint`, so a regression in how workers, inserts
// and events are typed fails the lint. Each `@ts-expect-error` line must stay an error (tsc
// reports an unused one), and each `expectTypeOf` must hold. The functions are never called:
// what matters is that they compile.

import { type } from "arktype";
import * as v from "valibot";
import { describe, expectTypeOf, test } from "vitest";
import { z } from "zod";
import { z as z3 } from "zod3";
import { cancel, defineWorker, type Job, type Queue, snooze } from "../index.js";
import { performJob } from "../testing/index.js";

type Mail = { to: string; cc: string[] };

const zod4 = defineWorker({
  name: "types.zod4",
  args: z.object({ to: z.string(), cc: z.array(z.string()).default([]) }),
  perform(job) {
    expectTypeOf(job.args).toEqualTypeOf<Mail>();
  },
});

const zod3 = defineWorker({
  name: "types.zod3",
  args: z3.object({ to: z3.string(), cc: z3.array(z3.string()).default([]) }),
  perform(job) {
    expectTypeOf(job.args).toEqualTypeOf<Mail>();
  },
});

const valibot = defineWorker({
  name: "types.valibot",
  args: v.object({ to: v.string(), cc: v.optional(v.array(v.string()), []) }),
  perform(job) {
    expectTypeOf(job.args).toEqualTypeOf<Mail>();
  },
});

const arktype = defineWorker({
  name: "types.arktype",
  args: type({ to: "string", cc: type("string[]").default(() => []) }),
  perform(job) {
    expectTypeOf(job.args).toEqualTypeOf<Mail>();
  },
});

async function insertsTakeTheInputType(queue: Queue) {
  for (const worker of [zod4, zod3, valibot, arktype]) {
    // A field with a default may be left out at insert; the job holds the output type.
    const job = await queue.insert(worker, { to: "a@example.com" });
    expectTypeOf(job).toEqualTypeOf<Job<Mail>>();
    await queue.insertMany(worker, [{ to: "a@example.com" }, { to: "b@example.com", cc: [] }]);
    await performJob(worker, { to: "a@example.com" });
    // @ts-expect-error `to` is required
    await queue.insert(worker, { cc: [] });
    // @ts-expect-error `cc` holds strings
    await queue.insert(worker, { to: "a@example.com", cc: [1] });
  }
  // @ts-expect-error an object schema declares its keys; a literal with another is a typo
  await queue.insert(zod4, { to: "a@example.com", cx: [] });
  const loose = defineWorker({
    name: "types.loose",
    args: z.looseObject({ a: z.number() }),
    perform() {},
  });
  await queue.insert(loose, { a: 1, b: "kept" });
  // A worker named by string takes any object.
  await queue.insert("types.by-name", { anything: [1, "two"] });
}

const results = defineWorker({
  name: "types.results",
  args: z.object({ mode: z.enum(["a", "b", "c", "d", "e"]) }),
  async perform(job) {
    // Differently shaped objects from branches, arrays, dates, snooze and cancel all fit.
    if (job.args.mode === "a") return { sent: 3, ids: ["1", "2"] };
    if (job.args.mode === "b") return { skipped: true, reason: "dry run", at: new Date() };
    if (job.args.mode === "c") return [1, "two", null] as const;
    if (job.args.mode === "d") return snooze("1m");
    return cancel("done");
  },
});

defineWorker({
  name: "types.bad-result",
  // @ts-expect-error a function is not JSON
  perform: () => ({ callback: () => 1 }),
});

defineWorker({
  name: "types.bad-result",
  // @ts-expect-error a bigint is not JSON
  perform: () => ({ big: 1n }),
});

function eventNamesAreChecked(queue: Queue) {
  queue.on("job:complete", ({ job, result, durationMs }) => {
    expectTypeOf(job).toEqualTypeOf<Job>();
    expectTypeOf(result).not.toBeAny();
    expectTypeOf(durationMs).toBeNumber();
  });
  queue.once("queue:error", ({ source }) => expectTypeOf(source).toBeString());
  // @ts-expect-error no such event: it is "job:complete"
  queue.on("job:completed", () => {});
  // @ts-expect-error no such event
  queue.off("job:done", () => {});
  // @ts-expect-error "job:error" listeners get { job, error, state }
  queue.on("job:error", ({ reason }) => reason);
}

describe("types", () => {
  test("compile (checked by tsc in lint)", () => {
    expectTypeOf(insertsTakeTheInputType).toBeFunction();
    expectTypeOf(eventNamesAreChecked).toBeFunction();
    expectTypeOf(results.perform).returns.not.toBeAny();
  });
});
