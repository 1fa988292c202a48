import {
  context,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { ConfigError } from "../errors.js";
import { type InsertCall, queueInternals } from "../internals.js";
import type { Queue } from "../queue.js";
import type { Job } from "../types.js";
import type { Outcome } from "../workers/run-job.js";

/**
 * `docket/otel`: OpenTelemetry traces of a queue, after the messaging semantic conventions. A
 * PRODUCER span `send {queue}` per insert call carries the jobs' trace context into their meta
 * (`traceparent`, W3C format); a CONSUMER span `process {queue}` per attempt links back to it.
 * See docs/observability.md.
 */

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Where spans go; the global provider (`trace.getTracerProvider()`) by default. */
  tracerProvider?: TracerProvider;
}

/** What {@link instrument} returns. */
export interface Instrumented {
  /** Stops tracing this queue (spans already started end as usual). */
  stop(): void;
}

/** The meta key that carries the producer's trace context to the attempts. */
export const traceparentKey = "traceparent";

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function toTraceparent(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
}

function linkTo(meta: Record<string, unknown>): Link[] {
  const value = meta[traceparentKey];
  if (typeof value !== "string") return [];
  const match = traceparentPattern.exec(value);
  if (!match) return [];
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  return [{ context: { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true } }];
}

function recordError(span: Span, error: unknown): void {
  const type = error instanceof Error ? error.name : typeof error;
  span.setAttribute("error.type", type);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

const outcomeNames: Record<Outcome["kind"], string> = {
  complete: "completed",
  error: "failed",
  snooze: "snoozed",
  cancel: "cancelled",
  handback: "handed_back",
};

/**
 * Traces `queue`'s inserts and attempts. Works on a started queue too (from its next insert and
 * attempt). Once per queue: a second call throws until `stop()`.
 *
 * @example
 * ```ts
 * import { instrument } from "docket/otel";
 * instrument(queue); // with the SDK's provider registered globally
 * ```
 */
export function instrument(queue: Queue, options: InstrumentOptions = {}): Instrumented {
  const hooks = queue[queueInternals]().instrumentation;
  if (hooks.insert || hooks.attempt) {
    throw new ConfigError("instrument: this queue is traced already (stop() the first one)");
  }
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  const tracer = provider.getTracer("docket");

  const insert = async (
    call: InsertCall,
    run: (meta: Record<string, unknown> | undefined) => Promise<Job[]>,
  ): Promise<Job[]> => {
    const span = tracer.startSpan("send", {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "docket",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.batch.message_count": call.count,
      },
    });
    const meta = { ...call.meta, [traceparentKey]: toTraceparent(span) };
    try {
      const jobs = await context.with(trace.setSpan(context.active(), span), () => run(meta));
      const first = jobs[0];
      if (first) {
        span.updateName(`send ${first.queue}`);
        span.setAttribute("messaging.destination.name", first.queue);
        span.setAttribute("docket.worker", first.worker);
        if (jobs.length === 1) span.setAttribute("messaging.message.id", first.id);
      }
      return jobs;
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  };

  const attempt = async (job: Job, run: () => Promise<Outcome>): Promise<Outcome> => {
    const span = tracer.startSpan(`process ${job.queue}`, {
      kind: SpanKind.CONSUMER,
      links: linkTo(job.meta),
      attributes: {
        "messaging.system": "docket",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": job.queue,
        "messaging.message.id": job.id,
        "docket.worker": job.worker,
        "docket.attempt": job.attempt,
      },
    });
    try {
      const outcome = await context.with(trace.setSpan(context.active(), span), run);
      span.setAttribute("docket.outcome", outcomeNames[outcome.kind]);
      if (outcome.kind === "error") recordError(span, outcome.error);
      return outcome;
    } finally {
      span.end();
    }
  };

  hooks.insert = insert;
  hooks.attempt = attempt;
  return {
    stop() {
      if (hooks.insert === insert) hooks.insert = undefined;
      if (hooks.attempt === attempt) hooks.attempt = undefined;
    },
  };
}
