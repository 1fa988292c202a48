// `pnpm --filter docket-bench run span-cost`: what a CONSUMER span costs per attempt, without a
// database. One no-op attempt (docket's runJob) bare, with a minimal hand-written span around it
// (the floor any tracing of attempts pays), with the same span carrying docket's attributes and
// link, and through docket/otel's hook; on the SDK with the batch processor and with the simple
// processor (exporters that drop the spans), the AsyncLocalStorage context manager enabled as the
// Node SDK does. Variants are interleaved over rounds; medians in µs per attempt.
//
//   BENCH_SPAN_ATTEMPTS=100000 BENCH_SPAN_ROUNDS=7 pnpm --filter docket-bench run span-cost
//
// BENCH_DOCKET_BEFORE=path/to/other/dist adds that build's hook (an older docket/otel) for a
// before/after comparison. BENCH_SPAN_ONLY=regex runs the matching variants only;
// BENCH_SPAN_CONTEXT=none leaves the API's no-op context manager (no AsyncLocalStorage).

import { resolve } from "node:path";
import { context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";

const attempts = Number(process.env.BENCH_SPAN_ATTEMPTS ?? 100_000);
const rounds = Number(process.env.BENCH_SPAN_ROUNDS ?? 7);
const only = process.env.BENCH_SPAN_ONLY ? new RegExp(process.env.BENCH_SPAN_ONLY) : undefined;
const dist = resolve(import.meta.dirname, "../../packages/docket/dist");

type Outcome = { kind: string };
type RunJob = (job: Job, worker: unknown, controller: unknown, node: string) => Promise<Outcome>;
interface Job {
  id: string;
  queue: string;
  worker: string;
  attempt: number;
  meta: Record<string, unknown>;
  [key: string]: unknown;
}

async function load(path: string) {
  const index = await import(`${path}/index.js`);
  const { runJob } = (await import(`${path}/workers/run-job.js`)) as { runJob: RunJob };
  const { queueInternals } = await import(`${path}/internals.js`);
  const { instrument } = await import(`${path}/observability/otel.js`);
  const worker = index.defineWorker({ name: "bench.noop", perform: async () => {} });
  /** docket/otel's attempt hook on a queue that never connects, as a function of the job. */
  const hook = (provider: BasicTracerProvider, sampleRatio?: number) => {
    const queue = new index.Queue({ connection: "postgres://127.0.0.1:1/none", workers: [worker] });
    instrument(queue, {
      tracerProvider: provider,
      ...(sampleRatio === undefined ? {} : { sampleRatio }),
    });
    const attempt = queue[queueInternals]().instrumentation.attempt;
    // Before this change the hook took (job, run); now it takes runJob's arguments.
    if (attempt.length === 2)
      return (job: Job) => attempt(job, () => runJob(job, worker, controller, "bench"));
    return (job: Job) => attempt(job, worker, controller, "bench");
  };
  return { runJob, worker, hook };
}

const controller = new AbortController();
let exported = 0;
const exporter = {
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void) {
    exported += spans.length;
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const providers = {
  batch: (sampler?: Sampler) =>
    new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)], sampler }),
  simple: (sampler?: Sampler) =>
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)], sampler }),
};

// The Node SDK registers this context manager; BENCH_SPAN_CONTEXT=none leaves the no-op one.
if (process.env.BENCH_SPAN_CONTEXT !== "none")
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const now = await load(dist);
const before = process.env.BENCH_DOCKET_BEFORE
  ? await load(resolve(process.env.BENCH_DOCKET_BEFORE))
  : undefined;
const { runJob, worker } = now;
const bare = (job: Job) => runJob(job, worker, controller, "bench");

/** A minimal hand-written consumer span: started, active around the attempt, ended. */
function floor(provider: BasicTracerProvider) {
  const tracer = provider.getTracer("floor");
  return async (job: Job) => {
    const span = tracer.startSpan("process default", { kind: SpanKind.CONSUMER }, ROOT_CONTEXT);
    const outcome = await context.with(trace.setSpan(ROOT_CONTEXT, span), bare, undefined, job);
    span.end();
    return outcome;
  };
}

/** The same span with docket's attributes and link, written by hand. */
function floorFull(provider: BasicTracerProvider) {
  const tracer = provider.getTracer("floor");
  return async (job: Job) => {
    const [, traceId = "", spanId = ""] = String(job.meta.traceparent).split("-");
    const span = tracer.startSpan(
      "process default",
      {
        kind: SpanKind.CONSUMER,
        links: [{ context: { traceId, spanId, traceFlags: 1, isRemote: true } }],
        attributes: {
          "messaging.system": "docket",
          "messaging.operation.type": "process",
          "messaging.operation.name": "process",
          "messaging.destination.name": job.queue,
          "messaging.message.id": job.id,
          "docket.worker": job.worker,
          "docket.attempt": job.attempt,
        },
      },
      ROOT_CONTEXT,
    );
    const outcome = await context.with(trace.setSpan(ROOT_CONTEXT, span), bare, undefined, job);
    span.setAttribute("docket.outcome", "completed");
    span.end();
    return outcome;
  };
}

const variants: Record<string, (job: Job) => Promise<Outcome>> = {
  "runJob, no span": bare,
  "runJob in context.with, no span": (job) =>
    context.with(ROOT_CONTEXT, bare, undefined, job) as Promise<Outcome>,
};
for (const [kind, make] of Object.entries(providers)) {
  variants[`${kind}: floor (bare span, active)`] = floor(make());
  variants[`${kind}: floor with docket's attributes and link`] = floorFull(make());
  if (before) variants[`${kind}: docket/otel before`] = before.hook(make());
  variants[`${kind}: docket/otel`] = now.hook(make());
}
variants["batch: floor, SDK ratio sampler 0.1"] = floor(
  providers.batch(new TraceIdRatioBasedSampler(0.1)),
);
if (before)
  variants["batch: docket/otel before, SDK ratio sampler 0.1"] = before.hook(
    providers.batch(new TraceIdRatioBasedSampler(0.1)),
  );
variants["batch: docket/otel, SDK ratio sampler 0.1"] = now.hook(
  providers.batch(new TraceIdRatioBasedSampler(0.1)),
);
variants["batch: docket/otel, sampleRatio 0.1"] = now.hook(providers.batch(), 0.1);
variants["batch: docket/otel, sampleRatio 0 (none)"] = now.hook(providers.batch(), 0);

function makeJob(k: number): Job {
  const at = new Date();
  return {
    id: String(k + 1),
    state: "executing",
    queue: "default",
    worker: "bench.noop",
    args: { i: k },
    meta: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    tags: [],
    errors: [],
    attempt: 1,
    maxAttempts: 20,
    priority: 0,
    insertedAt: at,
    scheduledAt: at,
    attemptedAt: at,
    completedAt: null,
    cancelledAt: null,
    discardedAt: null,
    attemptedBy: "bench",
  };
}

const jobs = Array.from({ length: 1024 }, (_, k) => makeJob(k));

/** µs per attempt of `run` over `attempts` attempts, yielding to the event loop every 256. */
async function measure(run: (job: Job) => Promise<Outcome>): Promise<number> {
  const start = performance.now();
  for (let k = 0; k < attempts; k++) {
    await run(jobs[k & 1023] as Job);
    if ((k & 255) === 255) await new Promise(setImmediate);
  }
  return ((performance.now() - start) * 1000) / attempts;
}

const names = Object.keys(variants).filter((name) => !only || only.test(name));
const results = new Map<string, number[]>(names.map((name) => [name, []]));
for (const name of names) await measure(variants[name] as never); // warm-up
for (let round = 0; round < rounds; round++) {
  const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
  for (const name of order) results.get(name)?.push(await measure(variants[name] as never));
  process.stderr.write(`[span-cost] round ${round + 1}/${rounds}\n`);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const width = Math.max(...names.map((name) => name.length));
console.log(`${"variant".padEnd(width)}  µs/attempt (median, min–max of ${rounds} × ${attempts})`);
for (const [name, values] of results) {
  const text = `${median(values).toFixed(2)} (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})`;
  console.log(`${name.padEnd(width)}  ${text}`);
}
console.log(`spans exported: ${exported}`);
