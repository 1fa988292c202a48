// One trial in a process of its own, so that no system's timers, pools or JIT state carry into
// another's measurement. The parent (main.ts, through run-trial.ts) sends one request over IPC;
// the child answers with the result and exits.

import type { SystemName } from "./config.js";
import { type FlowVariant, runFlow } from "./scenarios/flow.js";
import { runLatency } from "./scenarios/latency.js";
import { runPgbench } from "./scenarios/pgbench.js";
import { runPruning } from "./scenarios/pruning.js";
import { runRescueNode } from "./scenarios/rescue-node.js";
import { runThroughput } from "./scenarios/throughput.js";
import { runWorkflow, type WorkflowVariant } from "./scenarios/workflow.js";
import { createSystem } from "./systems/index.js";

/** What the parent asks a trial process to do. */
export type TrialRequest =
  | {
      kind: "throughput";
      system: SystemName;
      url: string;
      jobs: number;
      concurrency: number;
      /** Completed jobs put in the table first (docket only). */
      finished?: number;
    }
  | {
      kind: "latency";
      system: SystemName;
      url: string;
      jobs: number;
      rate: number;
      concurrency: number;
      /** Measure right after bulk-inserting, analyzing and draining this many jobs. */
      afterDrain?: number;
      /** Completed jobs put in the table first (docket only). */
      finished?: number;
    }
  | { kind: "pgbench"; url: string; jobs: number; batch: number; clients: number }
  | {
      kind: "pruning";
      url: string;
      rows: number;
      liveJobs: number;
      withPruner: boolean;
      /** The partitioned jobs table: the pruner drops days instead of deleting rows. */
      partitioned: boolean;
    }
  | { kind: "rescue-node"; system: SystemName; url: string; role: "victim" | "rescuer" }
  | {
      kind: "flow";
      url: string;
      variant: FlowVariant;
      jobs: number;
      concurrency: number;
      jobMs?: number;
    }
  | { kind: "workflow"; url: string; variant: WorkflowVariant; jobs: number; concurrency: number };

/** Messages a trial process sends to its parent. */
export type TrialMessage =
  | { type: "result"; result: unknown }
  | { type: "error"; error: string }
  | { type: "event"; event: string; at: number; data?: unknown };

function send(message: TrialMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error("trial.ts must be started by run-trial.ts (with IPC)");
    process.send(message, () => resolve());
  });
}

async function handle(request: TrialRequest): Promise<unknown> {
  switch (request.kind) {
    case "throughput": {
      const system = await createSystem(request.system, request.url);
      return runThroughput(system, request.url, request);
    }
    case "latency": {
      const system = await createSystem(request.system, request.url);
      return runLatency(system, request);
    }
    case "pgbench":
      return runPgbench(request);
    case "flow":
      return runFlow(request);
    case "workflow":
      return runWorkflow(request);
    case "pruning":
      return runPruning(request);
    case "rescue-node":
      return runRescueNode(request, (event, data) =>
        send({ type: "event", event, at: Date.now(), data }),
      );
  }
}

process.once("message", (request: TrialRequest) => {
  handle(request).then(
    async (result) => {
      await send({ type: "result", result });
      process.exit(0);
    },
    async (error: unknown) => {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      await send({ type: "error", error: text });
      process.exit(1);
    },
  );
});
