// docket/otel with the OpenTelemetry SDK's in-memory exporter: a job inserted inside a span runs
// in a CONSUMER span linked to the PRODUCER span of its insert, with the messaging attributes.
import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { waitFor } from "../../../../test/support/wait.js";
import { ConfigError, defineWorker } from "../index.js";
import { drainQueue } from "../testing/index.js";
import { instrument } from "./otel.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("test");
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});
beforeEach(() => exporter.reset());

/** The span `perform` ran in, per job id. */
const performSpans = new Map<string, string | undefined>();
const traced = defineWorker<{ fail?: boolean }>({
  name: "otel.traced",
  queue: "traced",
  maxAttempts: 1,
  perform(job) {
    performSpans.set(job.id, trace.getActiveSpan()?.spanContext().spanId);
    if (job.args.fail) throw new TypeError("bad input");
  },
});

/** A worker whose perform opens a child span, and notes the trace context it ran in. */
const performContexts = new Map<string, { traceId?: string; sampled?: boolean }>();
const nested = defineWorker({
  name: "otel.nested",
  queue: "nested",
  perform(job) {
    const active = trace.getActiveSpan()?.spanContext();
    performContexts.set(job.id, {
      traceId: active?.traceId,
      sampled: active ? (active.traceFlags & 1) === 1 : undefined,
    });
    tracer.startSpan("inside perform").end();
  },
});

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

describe("instrument", () => {
  test("links each attempt to the insert that made its job", async () => {
    const queue = makeQueue({ queues: { traced: 2 }, workers: [traced] });
    instrument(queue, { tracerProvider: provider });
    await queue.start();
    const [ok, failing] = await tracer.startActiveSpan("request", async (request: Span) => {
      try {
        const one = await queue.insert(traced, {});
        const many = await queue.insertMany(traced, [{ fail: true }]);
        return [one, many[0]];
      } finally {
        request.end();
      }
    });
    await waitFor(() => spansNamed("process traced").length === 2);

    const request = spansNamed("request")[0];
    const sends = spansNamed("send traced");
    expect(sends).toHaveLength(2);
    for (const send of sends) {
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
      expect(send.attributes).toMatchObject({
        "messaging.system": "docket",
        "messaging.destination.name": "traced",
        "messaging.operation.type": "send",
        "messaging.batch.message_count": 1,
      });
    }
    const processes = spansNamed("process traced");
    for (const job of [ok, failing]) {
      const span = processes.find((s) => s.attributes["messaging.message.id"] === job?.id);
      const send = sends.find((s) => toTraceparent(s) === job?.meta.traceparent);
      expect(send).toBeDefined();
      expect(span?.kind).toBe(SpanKind.CONSUMER);
      expect(span?.links.map((l) => l.context.spanId)).toEqual([send?.spanContext().spanId]);
      expect(span?.attributes).toMatchObject({
        "messaging.system": "docket",
        "messaging.operation.type": "process",
        "messaging.destination.name": "traced",
      });
      // perform ran inside the process span: its own calls are children of it.
      expect(performSpans.get(job?.id as string)).toBe(span?.spanContext().spanId);
    }
    const failed = processes.find((s) => s.attributes["messaging.message.id"] === failing?.id);
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes["error.type"]).toBe("TypeError");
    expect(failed?.events.map((e) => e.name)).toEqual(["exception"]);
    const passed = processes.find((s) => s.attributes["messaging.message.id"] === ok?.id);
    expect(passed?.status.code).toBe(SpanStatusCode.UNSET);
    expect(passed?.attributes["docket.outcome"]).toBe("completed");
  });

  test("a failed insert ends its span as an error; stop() ends tracing", async () => {
    const queue = makeQueue({ workers: [traced] });
    const tracing = instrument(queue, { tracerProvider: provider });
    expect(() => instrument(queue, { tracerProvider: provider })).toThrow(ConfigError);
    await expect(queue.insert(traced, {}, { scheduledAt: new Date("x") })).rejects.toThrow();
    const [failed] = spansNamed("send");
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    tracing.stop();
    const job = await queue.insert(traced, {});
    expect(job.meta.traceparent).toBeUndefined();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
  });
});

describe("attempts outside the producers and sampling", () => {
  beforeEach(async () => {
    await db.sql`DELETE FROM docket.jobs`;
  });

  test("drainQueue's attempts get the same CONSUMER spans, linked to their insert", async () => {
    const queue = makeQueue({ testing: "manual", workers: [traced] });
    instrument(queue, { tracerProvider: provider });
    const jobs = await queue.insertMany(traced, [{}, { fail: true }]);
    expect(await drainQueue(queue, { queue: "traced" })).toMatchObject({
      completed: 1,
      discarded: 1,
    });
    const [send] = spansNamed("send traced");
    const processes = spansNamed("process traced");
    expect(processes).toHaveLength(2);
    for (const job of jobs) {
      const span = processes.find((s) => s.attributes["messaging.message.id"] === job.id);
      expect(span?.kind).toBe(SpanKind.CONSUMER);
      expect(span?.links.map((l) => l.context.spanId)).toEqual([send?.spanContext().spanId]);
      expect(span?.attributes).toMatchObject({
        "messaging.system": "docket",
        "messaging.operation.type": "process",
        "messaging.destination.name": "traced",
        "docket.attempt": 1,
      });
      expect(performSpans.get(job.id)).toBe(span?.spanContext().spanId);
    }
    const failed = processes.find((s) => s.attributes["messaging.message.id"] === jobs[1]?.id);
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes["docket.outcome"]).toBe("failed");
  });

  test("a traced attempt still reports progress and reads its dependencies' results", async () => {
    const first = defineWorker({ name: "otel.first", queue: "chain", perform: () => ({ n: 41 }) });
    const seen: unknown[] = [];
    const second = defineWorker({
      name: "otel.second",
      queue: "chain",
      async perform(_job, { dependencies, progress }) {
        progress(50);
        seen.push(...[...(await dependencies()).values()].map((dep) => dep.meta.result));
      },
    });
    const queue = makeQueue({ queues: { chain: 2 }, workers: [first, second] });
    instrument(queue, { tracerProvider: provider });
    await queue.start();
    const dependency = await queue.insert(first, {});
    const dependent = await queue.insert(second, {}, { dependsOn: [dependency] });
    const done = await queue.waitForJob(dependent.id, { timeout: "20s" });
    expect(seen).toEqual([{ n: 41 }]);
    expect(done.meta.progress).toBe(50);
    expect(spansNamed("process chain")).toHaveLength(2);
  });

  test("a workflow is one send span, and each of its steps' attempts links to it", async () => {
    const queue = makeQueue({ testing: "manual", workers: [traced] });
    instrument(queue, { tracerProvider: provider });
    const jobs = await queue.workflow().add("a", traced, {}).add("b", traced, {}).insert();
    expect(await drainQueue(queue, { queue: "traced" })).toMatchObject({ completed: 2 });
    const sends = spansNamed("send traced");
    expect(sends).toHaveLength(1);
    expect(sends[0]?.attributes["messaging.batch.message_count"]).toBe(2);
    const processes = spansNamed("process traced");
    expect(processes.map((span) => span.attributes["messaging.message.id"]).sort()).toEqual(
      [...jobs.values()].map((job) => job.id).sort(),
    );
    for (const span of processes) {
      expect(span.links.map((l) => l.context.spanId)).toEqual([sends[0]?.spanContext().spanId]);
    }
  });

  test("an attempt starts its own trace, whatever span the queue was started in", async () => {
    const queue = makeQueue({ queues: { traced: 1 }, workers: [traced] });
    instrument(queue, { tracerProvider: provider });
    await tracer.startActiveSpan("boot", async (boot: Span) => {
      await queue.start();
      boot.end();
    });
    const job = await queue.insert(traced, {});
    await waitFor(() => spansNamed("process traced").length === 1);
    const [span] = spansNamed("process traced");
    expect(span?.attributes["messaging.message.id"]).toBe(job.id);
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.spanContext().traceId).not.toBe(spansNamed("boot")[0]?.spanContext().traceId);
  });

  test("an unsampled attempt has no span, and what perform traces is dropped", async () => {
    const queue = makeQueue({ testing: "manual", workers: [nested] });
    instrument(queue, { tracerProvider: provider, sampleRatio: 0 });
    const jobs = await queue.insertMany(nested, [{}, {}]);
    expect(await drainQueue(queue)).toMatchObject({ completed: 2 });
    expect(spansNamed("send nested")).toHaveLength(1);
    expect(spansNamed("process nested")).toHaveLength(0);
    // perform ran under an unsampled context of its own (one per attempt): the SDK's default
    // parent-based sampler drops its child span instead of recording it as a trace of its own.
    expect(spansNamed("inside perform")).toHaveLength(0);
    const [first, second] = jobs.map((job) => performContexts.get(job.id));
    expect(first).toMatchObject({
      sampled: false,
      traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(second?.sampled).toBe(false);
    expect(second?.traceId).not.toBe(first?.traceId);
  });

  test("sampleRatio 1 traces every attempt; a ratio out of 0..1 is refused", async () => {
    const queue = makeQueue({ testing: "manual", workers: [nested] });
    for (const sampleRatio of [-0.1, 1.5, Number.NaN, "0.5" as never]) {
      expect(() => instrument(queue, { tracerProvider: provider, sampleRatio })).toThrow(
        ConfigError,
      );
    }
    instrument(queue, { tracerProvider: provider, sampleRatio: 1 });
    await queue.insertMany(nested, [{}, {}, {}]);
    expect(await drainQueue(queue)).toMatchObject({ completed: 3 });
    const processes = spansNamed("process nested");
    expect(processes).toHaveLength(3);
    // perform's child spans are children of the attempt's span.
    const inside = spansNamed("inside perform");
    expect(inside.map((s) => s.parentSpanContext?.spanId).sort()).toEqual(
      processes.map((s) => s.spanContext().spanId).sort(),
    );
  });
});

function toTraceparent(span: ReadableSpan): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
}
