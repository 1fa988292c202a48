// One node of the rescue scenario. The "victim" starts a worker, inserts one job and hangs in its
// handler (the parent then kills it with SIGKILL); the "rescuer" runs the same queue and reports
// when the job is durably completed. Each system runs with its crash-recovery settings turned
// down to a few seconds; they are in `rescueSettings` and in the report.

import { PgBoss } from "pg-boss";
import postgres from "postgres";
import type { SystemName } from "../config.js";
import { loadDocket } from "../systems/docket.js";
import { pollUntil } from "./checks.js";

type Emit = (event: string, data?: unknown) => Promise<void>;

/** What a rescuer reports. */
export interface RescueNodeResult {
  /** Date.now() when the rescued job was durably completed. */
  completedAt: number;
  /** Times the rescuer's handler ran the job. */
  runs: number;
}

/** The recovery settings each system runs the scenario with. */
export const rescueSettings = {
  docket: {
    heartbeat: { interval: "1s", timeout: "3s" },
    lifeline: { interval: "1s" },
    leadership: { ttl: "3s" },
  },
  "pg-boss": {
    queue: { heartbeatSeconds: 10, retryLimit: 3, retryDelay: 0, notify: true },
    instance: { superviseIntervalSeconds: 1, monitorIntervalSeconds: 1, useListenNotify: true },
  },
} as const;

const hang = () => new Promise<never>(() => {});

/** Runs one node of the rescue scenario until it is killed (victim) or the job is done (rescuer). */
export async function runRescueNode(
  request: { system: SystemName; url: string; role: "victim" | "rescuer" },
  emit: Emit,
): Promise<RescueNodeResult> {
  switch (request.system) {
    case "docket":
      return docketNode(request.url, request.role, emit);
    case "pg-boss":
      return pgBossNode(request.url, request.role, emit);
    default:
      throw new Error(`rescue: ${request.system} is not measured (see the report)`);
  }
}

async function docketNode(
  url: string,
  role: "victim" | "rescuer",
  emit: Emit,
): Promise<RescueNodeResult> {
  const { defineWorker, Queue } = await loadDocket();
  let runs = 0;
  const worker = defineWorker<{ i: number }>({
    name: "bench.rescue",
    async perform() {
      if (role === "victim") {
        await emit("started");
        await hang();
      }
      runs++;
    },
  });
  const queue = new Queue({
    connection: url,
    queues: { default: 1 },
    workers: [worker],
    ...rescueSettings.docket,
  } as never);
  if (role === "victim") {
    await queue.migrate();
    await queue.start();
    await queue.insert(worker, { i: 0 });
    return hang();
  }
  await queue.start();
  await emit("ready");
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await pollUntil(
    async () => {
      const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::integer AS n FROM docket.jobs WHERE state = 'completed'`;
      return row?.n === 1;
    },
    600_000,
    5,
  );
  const completedAt = Date.now();
  await sql.end();
  await queue.stop({ grace: 1 });
  return { completedAt, runs };
}

async function pgBossNode(
  url: string,
  role: "victim" | "rescuer",
  emit: Emit,
): Promise<RescueNodeResult> {
  const name = "rescue";
  const { instance, queue } = rescueSettings["pg-boss"];
  const boss = new PgBoss({ connectionString: url, schedule: false, ...instance });
  boss.on("error", () => {});
  await boss.start();
  let runs = 0;
  if (role === "victim") {
    await boss.createQueue(name, { ...queue });
    await boss.work(name, { pollingIntervalSeconds: 0.5 }, async () => {
      await emit("started");
      await hang();
    });
    await boss.send(name, { i: 0 });
    return hang();
  }
  await boss.work(name, { pollingIntervalSeconds: 0.5 }, async () => {
    runs++;
  });
  await emit("ready");
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await pollUntil(
    async () => {
      const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::integer AS n FROM pgboss.job WHERE name = ${name} AND state = 'completed'`;
      return row?.n === 1;
    },
    600_000,
    5,
  );
  const completedAt = Date.now();
  await sql.end();
  await boss.stop({ graceful: false, timeout: 1000 });
  return { completedAt, runs };
}
