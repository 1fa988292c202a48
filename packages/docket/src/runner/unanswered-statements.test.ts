import postgres from "postgres";
import { afterEach, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { startTcpProxy, type TcpProxy } from "../../../../test/support/tcp-proxy.js";
import { waitFor } from "../../../../test/support/wait.js";
import { DatabaseTimeoutError, defineWorker } from "../index.js";
import type { JobState } from "../types.js";
import { Acker } from "./acker.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
let proxy: TcpProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

interface StoredJob {
  id: string;
  state: string;
  attempt: number;
  /** How many times the lifeline moved the job back to available. */
  rescued: number;
}

async function states(ids: string[]): Promise<Map<string, StoredJob>> {
  const rows = await db.sql<StoredJob[]>`
    SELECT id::text, state::text, attempt, COALESCE((meta ->> 'rescued')::integer, 0) AS rescued
    FROM docket.jobs WHERE id = ANY(${ids}::bigint[])`;
  return new Map(rows.map((row) => [row.id, row]));
}

test("claims and outcomes left unanswered do not stall the node, and their late answers change nothing", {
  timeout: 60_000,
}, async () => {
  proxy = await startTcpProxy(db.url);
  const runs = new Map<string, number>();
  const worker = defineWorker({
    name: "unanswered",
    queue: "silent",
    perform: (job) => {
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
    },
  });
  // Statements may go unanswered for heartbeat.timeout (2 s) before the node stops waiting.
  const queue = makeQueue({
    connection: proxy.url,
    poolSize: 10,
    queues: { silent: 2 },
    workers: [worker],
    heartbeat: { interval: 0.5, timeout: 2 },
  });
  const timedOut = new Set<string>();
  queue.on("queue:error", ({ error, source }) => {
    if (error instanceof DatabaseTimeoutError) timedOut.add(source);
  });
  const inserter = makeQueue();
  await queue.start();
  const [warm] = await inserter.insertMany(worker, [{}, {}, {}]);
  await waitFor(
    async () => (await states([warm?.id as string])).get(warm?.id as string)?.state === "completed",
    {
      what: "a first job to run through the proxy",
    },
  );

  // Every connection the node has open now keeps running statements, but their answers stop.
  proxy.silence();
  const jobs = await inserter.insertMany(
    worker,
    Array.from({ length: 6 }, () => ({})),
  );
  const ids = jobs.map((job) => job.id);
  // Without a deadline the producer waits on its silent claim for good and nothing runs.
  await waitFor(
    async () => [...(await states(ids)).values()].every((row) => row.state === "completed"),
    {
      timeoutMs: 30_000,
      what: "the jobs inserted while the node's connections were silent to run",
    },
  );
  expect(timedOut).toContain("producer:silent");

  // Which claim went unanswered depends on timing. If it was sent before the insert it took
  // nothing. If it took jobs, they ran before the answers came back only because the lifeline
  // rescued them (the silent heartbeats left the producer stale): attempt kept, claimed again.
  // The held answers arrive now, and the late claim's hand-back of attempt 1 must change
  // nothing: nothing runs twice, nothing completed is reopened.
  proxy.restore();
  const [after] = await inserter.insertMany(worker, [{}]);
  await waitFor(
    async () =>
      (await states([after?.id as string])).get(after?.id as string)?.state === "completed",
    {
      what: "a job inserted after the answers came back to run",
    },
  );
  await queue.stop();
  const final = await states(ids);
  for (const id of ids) {
    const rescued = final.get(id)?.rescued ?? 0;
    expect(final.get(id)).toEqual({ id, state: "completed", attempt: 1 + rescued, rescued });
    expect(runs.get(id)).toBe(1);
  }
});

test("the acker sends a batch left unanswered again, and it is stored once", async () => {
  proxy = await startTcpProxy(db.url);
  // One connection: once it is silent, every send waits on it, the first and the retries.
  const client = postgres(proxy.url, { max: 1, onnotice: () => {} });
  try {
    await client`SELECT 1`;
    const [row] = await db.sql<{ id: string }[]>`
      INSERT INTO docket.jobs (state, queue, worker, attempt, attempted_at, attempted_by)
      VALUES ('executing', 'default', 'w', 1, now(), 'n1') RETURNING id::text`;
    const id = row?.id as string;
    const errors: unknown[] = [];
    const acker = new Acker({
      executor: client,
      schema: "docket",
      node: "n1",
      intervalMs: 10,
      batchSize: 100,
      answerWithinMs: 300,
      onError: (error) => errors.push(error),
    });
    proxy.silence();
    const reported: (JobState | null)[] = [];
    acker.push(
      { id, attempt: 1, state: "completed", delay_ms: null, refund: 0, error: null, meta: {} },
      (state) => reported.push(state),
    );
    // Without a deadline the acker would wait on the silent connection without a word.
    await waitFor(() => errors.some((error) => error instanceof DatabaseTimeoutError), {
      what: "the acker to report its batch unanswered",
    });
    expect(reported).toEqual([]); // still held: the outcome is not given up on
    proxy.restore();
    await acker.flush();
    // The first send completed the job; the retry found it settled. Reported once either way.
    expect(reported).toHaveLength(1);
    const [stored] = await db.sql<{ state: string; attempt: number }[]>`
      SELECT state::text, attempt FROM docket.jobs WHERE id = ${id}::bigint`;
    expect(stored).toEqual({ state: "completed", attempt: 1 });
  } finally {
    await client.end({ timeout: 1 });
  }
});
