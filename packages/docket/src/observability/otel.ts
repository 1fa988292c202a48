import { randomFillSync } from "node:crypto";
import {
  type Attributes,
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { ConfigError } from "../errors.js";
import { type InsertCall, queueInternals } from "../internals.js";
import type { Queue } from "../queue.js";
import type { Job } from "../types.js";
import { type Outcome, runJob } from "../workers/run-job.js";

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
  /**
   * The share of attempts that get a `process` span, from 0 to 1 (default 1: every attempt). The
   * others run without a span and without asking the SDK for one, under an unsampled trace
   * context of their own, so that what `perform` traces is dropped by the SDK's default
   * (parent-based) sampler instead of starting traces of its own. Insert spans are not sampled
   * here (they cost one per insert call, not per job).
   */
  sampleRatio?: number;
}

/** What {@link instrument} returns. */
export interface Instrumented {
  /** Stops tracing this queue (spans already started end as usual). */
  stop(): void;
}

/** The meta key that carries the producer's trace context to the attempts. */
export const traceparentKey = "traceparent";

const traceparentPattern = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

function toTraceparent(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
}

/**
 * The link to the span that inserted a job, read from its `traceparent` by position (no
 * propagator). The last one read is kept: the jobs of one `insertMany` share it, and the SDK
 * copies the list it is given, so consecutive attempts of a batch reuse one parsed link.
 */
function linkReader(): (meta: Record<string, unknown>) => Link[] | undefined {
  let lastValue: string | undefined;
  let lastLinks: Link[] | undefined;
  return (meta) => {
    const value = meta[traceparentKey];
    if (typeof value !== "string") return undefined;
    if (value === lastValue) return lastLinks;
    if (!traceparentPattern.test(value)) return undefined;
    const traceFlags = Number.parseInt(value.slice(53, 55), 16);
    const traceId = value.slice(3, 35);
    lastLinks = [{ context: { traceId, spanId: value.slice(36, 52), traceFlags, isRemote: true } }];
    lastValue = value;
    return lastLinks;
  };
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

/** Random bytes for the ids of unsampled attempts, drawn in blocks: one draw per 256 attempts. */
const idBytes = Buffer.alloc(24 * 256);
let idOffset = idBytes.length;

/** A fresh unsampled trace context (W3C ids, not recorded), for an attempt left unsampled. */
function unsampledContext(): Context {
  if (idOffset === idBytes.length) {
    randomFillSync(idBytes);
    idOffset = 0;
  }
  const traceId = idBytes.toString("hex", idOffset, idOffset + 16);
  const spanId = idBytes.toString("hex", idOffset + 16, idOffset + 24);
  idOffset += 24;
  const span = trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.NONE });
  return trace.setSpan(ROOT_CONTEXT, span);
}

/** Span names per queue, made once each (a queue's name is fixed, the list is bounded). */
function spanNames(prefix: string): (queue: string) => string {
  const names = new Map<string, string>();
  return (queue) => {
    let name = names.get(queue);
    if (name === undefined) {
      if (names.size >= 1000) names.clear();
      name = `${prefix} ${queue}`;
      names.set(queue, name);
    }
    return name;
  };
}

function checkRatio(ratio: number | undefined): number {
  if (ratio === undefined) return 1;
  if (typeof ratio !== "number" || !(ratio >= 0 && ratio <= 1)) {
    throw new ConfigError(`instrument: sampleRatio must be a number from 0 to 1, got ${ratio}`);
  }
  return ratio;
}

/**
 * The attempt hook: one CONSUMER span per attempt (a root, linked to the insert's span), active
 * while `perform` runs, ended once with its outcome.
 */
function attemptHook(tracer: Tracer, sampleRatio: number): typeof runJob {
  const processName = spanNames("process");
  const linkTo = linkReader();
  const traced = async (...args: Parameters<typeof runJob>): Promise<Outcome> => {
    const [job] = args;
    const attributes: Attributes = {
      "messaging.system": "docket",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": job.queue,
      "messaging.message.id": job.id,
      "docket.worker": job.worker,
      "docket.attempt": job.attempt,
    };
    // A root: the attempt's trace is its own, whatever context the producer's loop runs in.
    const span = tracer.startSpan(
      processName(job.queue),
      { kind: SpanKind.CONSUMER, links: linkTo(job.meta), attributes },
      ROOT_CONTEXT,
    );
    let outcome: Outcome;
    try {
      const active = trace.setSpan(ROOT_CONTEXT, span);
      outcome = await context.with(active, runJob, undefined, ...args);
    } catch (error) {
      // runJob turns perform's throws into outcomes; anything else still ends the span.
      recordError(span, error);
      span.end();
      throw error;
    }
    span.setAttribute("docket.outcome", outcomeNames[outcome.kind]);
    if (outcome.kind === "error") recordError(span, outcome.error);
    span.end();
    return outcome;
  };
  if (sampleRatio >= 1) return traced;
  return (...args) =>
    Math.random() < sampleRatio
      ? traced(...args)
      : context.with(unsampledContext(), runJob, undefined, ...args);
}

/**
 * Traces `queue`'s inserts and attempts. Works on a started queue too (from its next insert and
 * attempt). Once per queue: a second call throws until `stop()`.
 *
 * @example
 * ```ts
 * import { instrument } from "docket/otel";
 * instrument(queue); // with the SDK's provider registered globally
 * instrument(other, { sampleRatio: 0.1 }); // a span for one attempt in ten
 * ```
 */
export function instrument(queue: Queue, options: InstrumentOptions = {}): Instrumented {
  const hooks = queue[queueInternals]().instrumentation;
  if (hooks.insert || hooks.attempt) {
    throw new ConfigError("instrument: this queue is traced already (stop() the first one)");
  }
  const sampleRatio = checkRatio(options.sampleRatio);
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

  const attempt = attemptHook(tracer, sampleRatio);

  hooks.insert = insert;
  hooks.attempt = attempt;
  return {
    stop() {
      if (hooks.insert === insert) hooks.insert = undefined;
      if (hooks.attempt === attempt) hooks.attempt = undefined;
    },
  };
}
