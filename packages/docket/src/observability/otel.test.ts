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

function toTraceparent(span: ReadableSpan): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
}
