// graphile-worker under test, in the configuration of its performance page: a local queue of 500
// jobs fetched at once and batched completions (completeJobBatchDelay 0, failJobBatchDelay 0).
// It deletes a job once it completes, so "finished" means "gone from the jobs table".

import {
  Logger,
  makeWorkerUtils,
  type Runner,
  run,
  runMigrations,
  type WorkerUtils,
} from "graphile-worker";
import postgres, { type Sql } from "postgres";
import type { BenchSystem, WorkerSettings } from "./types.js";

const silent = new Logger(() => () => {});

/** The worker options, as on https://worker.graphile.org/docs/performance, with our concurrency. */
function workerPreset() {
  return {
    worker: {
      localQueue: { size: Number(process.env.BENCH_GRAPHILE_LOCAL_QUEUE ?? 500) },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  };
}

/** graphile-worker on the database at `url`, in its performance page's configuration. */
export function createGraphileWorker(url: string): BenchSystem {
  let utils: WorkerUtils | undefined;
  let runner: Runner | undefined;
  const admin: Sql = postgres(url, { max: 1, onnotice: () => {} });

  return {
    name: "graphile-worker",
    settings: { ...workerPreset().worker, maxPoolSize: "concurrency + 1" },
    async setup() {
      await runMigrations({ connectionString: url, logger: silent });
      utils = await makeWorkerUtils({ connectionString: url, logger: silent });
    },
    async insertBulk(from, count) {
      const specs = Array.from({ length: count }, (_, k) => ({
        identifier: "noop",
        payload: { i: from + k },
      }));
      await utils?.addJobs(specs);
    },
    async insertOne(i) {
      await utils?.addJob("noop", { i });
    },
    async startWorkers(settings: WorkerSettings) {
      runner = await run({
        connectionString: url,
        concurrency: settings.concurrency,
        maxPoolSize: settings.concurrency + 1,
        noHandleSignals: true,
        logger: silent,
        taskList: {
          noop: async (payload) => {
            await settings.onJob((payload as { i: number }).i);
          },
        },
        preset: workerPreset(),
      });
    },
    async unfinished() {
      const [row] = await admin<{ n: number }[]>`
        SELECT count(*)::integer AS n FROM graphile_worker._private_jobs`;
      return row?.n ?? 0;
    },
    async stop() {
      await runner?.stop();
      await utils?.release();
      await admin.end();
    },
  };
}
