// The docket demo: a queue doing real work on a real PostgreSQL.
//   npx -y pnpm@10 install && npx -y pnpm@10 demo
// Uses DATABASE_URL when set, else starts an embedded PostgreSQL just for this run.
import { defineWorker, Queue, snooze } from "docket";
import { startPostgres } from "./postgres.js";

const total = Number(process.env.DEMO_JOBS ?? 5000);

const resize = defineWorker({
  name: "image.resize",
  queue: "media",
  async perform(job) {
    // A little CPU and a little waiting, like real work.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
    if (job.args.n % 500 === 7 && job.attempt === 1) throw new Error("flaky upstream, will retry");
    if (job.args.n % 700 === 3 && !job.meta.snoozed) return snooze("1s");
    return { width: 200, height: Math.round(200 * (job.args.ratio ?? 1)) };
  },
  backoff: () => 1,
});

const postgres = await startPostgres();
console.log(
  postgres.embedded ? "PostgreSQL: embedded, started for this demo" : "PostgreSQL: DATABASE_URL",
);

const queue = new Queue({
  connection: postgres.url,
  queues: { media: 20 },
  workers: [resize],
});
let completed = 0;
let failed = 0;
let snoozed = 0;
queue.on("job:complete", () => completed++);
queue.on("job:error", () => failed++);
queue.on("job:snooze", () => snoozed++);
queue.on("queue:error", ({ error, source }) => console.error(`queue error in ${source}:`, error));

try {
  await queue.migrate();
  await queue.start();
  const started = performance.now();
  const jobs = await queue.insertMany(
    resize,
    Array.from({ length: total }, (_, n) => ({ n, ratio: 0.5 + (n % 3) / 4 })),
  );
  const insertMs = performance.now() - started;
  console.log(`inserted ${jobs.length} jobs in ${insertMs.toFixed(0)} ms`);
  const progress = setInterval(() => {
    const pct = ((completed / total) * 100).toFixed(0).padStart(3);
    console.log(
      `[${pct}%] completed ${completed}/${total}, failed attempts ${failed}, snoozed ${snoozed}`,
    );
  }, 500);
  const deadline = Date.now() + 120_000;
  while (completed < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearInterval(progress);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `done: ${completed}/${total} completed in ${seconds.toFixed(1)} s (${Math.round(completed / seconds)} jobs/s), ` +
      `${failed} failed attempts retried, ${snoozed} snoozes`,
  );
  const sample = await queue.getJob(jobs[1].id);
  console.log("a finished job:", {
    id: sample.id,
    state: sample.state,
    attempt: sample.attempt,
    result: sample.meta.result,
  });
  if (completed < total) process.exitCode = 1;
} finally {
  await queue.stop({ grace: "5s" });
  await postgres.stop();
}
