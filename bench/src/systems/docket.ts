// docket under test: one Queue that inserts and, once started, runs the "default" queue.

import { dirname, join } from "node:path";
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

/**
 * docket on the database at `url`: its defaults, the queue's limit set per trial; with
 * `partitioned`, the partitioned jobs table (system "docket-partitioned").
 */
export async function createDocket(
  url: string,
  layout: { partitioned?: boolean } = {},
): Promise<BenchSystem> {
  const { defineWorker, Queue } = await loadDocket();
  let onJob: WorkerSettings["onJob"] = () => {};
  let floorSpan: FloorSpan | undefined;
  const noop = defineWorker<{ i: number }>({
    name: "bench.noop",
    ...(await argsSchema()),
    perform: async (job) => {
      if (floorSpan) await floorSpan(onJob, job.args.i);
      else await onJob(job.args.i);
    },
  });
  const extraOptions = {
    ...jsonEnv("BENCH_DOCKET_OPTIONS"),
    ...(layout.partitioned ? { partitioned: true } : {}),
  };
  const extraQueue = jsonEnv("BENCH_DOCKET_QUEUE");
  let inserter: InstanceType<typeof Queue> | undefined;
  let worker: InstanceType<typeof Queue> | undefined;
  let scraper: NodeJS.Timeout | undefined;
  const admin: Sql = postgres(url, { max: 1, onnotice: () => {} });

  const newQueue = (queues: Record<string, unknown>, options: Record<string, unknown> = {}) =>
    new Queue({ connection: url, queues, workers: [noop], ...extraOptions, ...options } as never);

  return {
    name: layout.partitioned ? "docket-partitioned" : "docket",
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
      worker = newQueue(
        { default: { limit: settings.concurrency, ...extraQueue } },
        settings.withoutPruner ? { pruner: false } : {},
      );
      if (process.env.BENCH_METRICS === "1") {
        // docket/prometheus on the worker, scraped every second as Prometheus would (faster).
        const { Registry } = await import("prom-client");
        const { collectMetrics } = await import("docket/prometheus");
        const registry = new Registry();
        collectMetrics(worker as never, { registry });
        scraper = setInterval(() => void registry.metrics(), 1000);
      }
      const tracing = await setUpTracing();
      if (tracing?.floor) floorSpan = tracing.floor;
      else if (tracing?.provider) {
        const path = process.env.BENCH_DOCKET_MODULE;
        const { instrument } = (await (path
          ? import(join(dirname(path), "observability/otel.js"))
          : import("docket/otel"))) as typeof import("docket/otel");
        instrument(worker as never, { tracerProvider: tracing.provider, ...tracing.options });
      }
      await worker.start();
    },
    async unfinished() {
      // One count per partial index (what is not completed), a few ms: `state <> 'completed'` is a
      // parallel scan of the whole plain table, 100 ms with 1M finished jobs, polled every 2 ms
      // at the end of a trial (it slowed the plain table's "finished jobs" trials, not the
      // partitioned one's, which skips its finished partitions).
      const [row] = await admin<{ n: number }[]>`
        SELECT ((SELECT count(*) FROM docket.jobs WHERE state = 'available')
          + (SELECT count(*) FROM docket.jobs WHERE state = 'executing')
          + (SELECT count(*) FROM docket.jobs WHERE state IN ('scheduled', 'retryable'))
          + (SELECT count(*) FROM docket.jobs WHERE state = 'discarded')
          + (SELECT count(*) FROM docket.jobs WHERE state = 'cancelled'))::integer AS n`;
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

/** The least a traced attempt costs: a bare consumer span, active around the handler. */
type FloorSpan = (run: WorkerSettings["onJob"], i: number) => Promise<void>;

/**
 * The OpenTelemetry SDK for `BENCH_TRACING`, as a production process sets it up: the
 * AsyncLocalStorage context manager registered, an exporter that drops the spans.
 * - `1` or `batch`: docket/otel, BatchSpanProcessor; `simple`: SimpleSpanProcessor;
 * - `floor`: no docket/otel; the handler starts and ends a bare consumer span itself (batch);
 * - `context`: the context manager only, used once, no spans (what AsyncLocalStorage costs);
 * - `BENCH_TRACING_RATIO` (e.g. 0.1): docket/otel's `sampleRatio`;
 *   `BENCH_TRACING_SAMPLER` (e.g. 0.1): the SDK's TraceIdRatioBased sampler instead.
 * Unset: no OpenTelemetry at all.
 */
async function setUpTracing(): Promise<
  | {
      provider?: import("@opentelemetry/api").TracerProvider;
      floor?: FloorSpan;
      options: { sampleRatio?: number };
    }
  | undefined
> {
  const mode = process.env.BENCH_TRACING;
  if (!mode) return undefined;
  if (!["1", "batch", "simple", "floor", "context"].includes(mode))
    throw new Error(`BENCH_TRACING: "${mode}" is not 1, batch, simple, floor or context`);
  const { context, ROOT_CONTEXT, SpanKind, trace } = await import("@opentelemetry/api");
  const { AsyncLocalStorageContextManager } = await import("@opentelemetry/context-async-hooks");
  const sdk = await import("@opentelemetry/sdk-trace-base");
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  if (mode === "context") {
    // Used once, as any traced code of the application would: AsyncLocalStorage's hooks are on.
    context.with(ROOT_CONTEXT, () => {});
    return { options: {} };
  }
  const exporter = {
    export: (_spans: unknown[], done: (result: { code: 0 }) => void) => done({ code: 0 }),
    shutdown: async () => {},
  };
  const processor =
    mode === "simple"
      ? new sdk.SimpleSpanProcessor(exporter)
      : new sdk.BatchSpanProcessor(exporter);
  const sdkRatio = process.env.BENCH_TRACING_SAMPLER;
  const provider = new sdk.BasicTracerProvider({
    spanProcessors: [processor],
    ...(sdkRatio ? { sampler: new sdk.TraceIdRatioBasedSampler(Number(sdkRatio)) } : {}),
  });
  if (mode === "floor") {
    const tracer = provider.getTracer("bench");
    const floor: FloorSpan = async (run, i) => {
      const span = tracer.startSpan("process default", { kind: SpanKind.CONSUMER }, ROOT_CONTEXT);
      await context.with(trace.setSpan(ROOT_CONTEXT, span), run, undefined, i);
      span.end();
    };
    return { floor, options: {} };
  }
  const ratio = process.env.BENCH_TRACING_RATIO;
  return { provider, options: ratio ? { sampleRatio: Number(ratio) } : {} };
}
