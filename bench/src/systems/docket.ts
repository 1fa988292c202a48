// docket under test: one Queue that inserts and, once started, runs the "default" queue.

import postgres, { type Sql } from "postgres";
import type { BenchSystem, WorkerSettings } from "./types.js";

/** The docket module: the workspace build, or another build named by `BENCH_DOCKET_MODULE`. */
export type DocketModule = typeof import("docket");

/**
 * Loads docket. `BENCH_DOCKET_MODULE` (a path to a build's `dist/index.js`) compares another build,
 * e.g. one from before a change, on the same server in the same run.
 */
export async function loadDocket(): Promise<DocketModule> {
  const path = process.env.BENCH_DOCKET_MODULE;
  return (path ? await import(path) : await import("docket")) as DocketModule;
}

/**
 * Queue options beyond the queue's limit, from `BENCH_DOCKET_OPTIONS` (JSON), for experiments
 * such as `{"ackInterval":"5ms"}`; per-queue options from `BENCH_DOCKET_QUEUE` (JSON), such as
 * `{"prefetch":100}`. Unset: docket's defaults.
 */
function jsonEnv(name: string): Record<string, unknown> {
  const text = process.env[name];
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * The noop worker's args schema, from `BENCH_DOCKET_ARGS_SCHEMA`: `zod` checks `{ i }` with zod 4
 * at insert and before each run (the cost of validation); unset, the worker has no schema.
 */
async function argsSchema(): Promise<{
  args?: import("zod").ZodType<{ i: number }, { i: number }>;
}> {
  const kind = process.env.BENCH_DOCKET_ARGS_SCHEMA;
  if (!kind) return {};
  if (kind !== "zod") throw new Error(`BENCH_DOCKET_ARGS_SCHEMA: "${kind}" is not "zod"`);
  const { z } = await import("zod");
  return { args: z.object({ i: z.number().int() }) };
}

/** docket on the database at `url`: its defaults, the queue's limit set per trial. */
export async function createDocket(url: string): Promise<BenchSystem> {
  const { defineWorker, Queue } = await loadDocket();
  let onJob: WorkerSettings["onJob"] = () => {};
  const noop = defineWorker<{ i: number }>({
    name: "bench.noop",
    ...(await argsSchema()),
    perform: async (job) => {
      await onJob(job.args.i);
    },
  });
  const extraOptions = jsonEnv("BENCH_DOCKET_OPTIONS");
  const extraQueue = jsonEnv("BENCH_DOCKET_QUEUE");
  let inserter: InstanceType<typeof Queue> | undefined;
  let worker: InstanceType<typeof Queue> | undefined;
  let scraper: NodeJS.Timeout | undefined;
  const admin: Sql = postgres(url, { max: 1, onnotice: () => {} });

  const newQueue = (queues: Record<string, unknown>) =>
    new Queue({ connection: url, queues, workers: [noop], ...extraOptions } as never);

  return {
    name: "docket",
    settings: { queueOptions: extraQueue, options: extraOptions },
    async setup() {
      inserter = newQueue({});
      await inserter.migrate();
    },
    async insertBulk(from, count) {
      const args = Array.from({ length: count }, (_, k) => ({ i: from + k }));
      await inserter?.insertMany(noop, args);
    },
    async insertOne(i) {
      await inserter?.insert(noop, { i });
    },
    async startWorkers(settings) {
      onJob = settings.onJob;
      worker = newQueue({ default: { limit: settings.concurrency, ...extraQueue } });
      if (process.env.BENCH_METRICS === "1") {
        // docket/prometheus on the worker, scraped every second as Prometheus would (faster).
        const { Registry } = await import("prom-client");
        const { collectMetrics } = await import("docket/prometheus");
        const registry = new Registry();
        collectMetrics(worker as never, { registry });
        scraper = setInterval(() => void registry.metrics(), 1000);
      }
      if (process.env.BENCH_TRACING === "1") {
        // docket/otel with the SDK: every span sampled, processed, and dropped by the exporter.
        const { BasicTracerProvider, BatchSpanProcessor } = await import(
          "@opentelemetry/sdk-trace-base"
        );
        const { instrument } = await import("docket/otel");
        const exporter = {
          export: (_spans: unknown[], done: (result: { code: 0 }) => void) => done({ code: 0 }),
          shutdown: async () => {},
        };
        const tracerProvider = new BasicTracerProvider({
          spanProcessors: [new BatchSpanProcessor(exporter)],
        });
        instrument(worker as never, { tracerProvider });
      }
      await worker.start();
    },
    async unfinished() {
      const [row] = await admin<{ n: number }[]>`
        SELECT count(*)::integer AS n FROM docket.jobs WHERE state <> 'completed'`;
      return row?.n ?? 0;
    },
    async stop() {
      clearInterval(scraper);
      await worker?.stop({ grace: 5 });
      await inserter?.stop();
      await admin.end();
    },
  };
}
