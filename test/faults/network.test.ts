// Fault suite: the network between a node and PostgreSQL goes silent, then comes back. node-a
// runs inside a network namespace joined to the host by a veth pair; an nftables rule drops
// every packet on the link (no reset, no ICMP: its connections just go quiet). node-b, on the
// host, is the leader. node-a must notice in bounded time (a `queue:error` from its heartbeat),
// never crash; its jobs must come back (rescued and completed by node-b); once the link is back,
// node-a works again and its late outcomes do not overwrite node-b's.
//
// Root only (namespaces, nftables): skipped elsewhere with one line, required under CI=true.
// FAULT_CUT_SECONDS: how long the link stays down (default 5). The kernel here has no `netem`
// qdisc, so slow or lossy links are not tested.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, expect, test } from "vitest";
import { Migrator, Queue } from "../../packages/docket/src/index.js";
import { fastMaintenance, type NodeProcess, startNode } from "../maintenance/support.js";
import { freePort } from "../support/embedded-server.js";
import { waitFor } from "../support/wait.js";
import { createLinkedNamespace, type LinkedNamespace, netnsUnavailable } from "./support/netns.js";
import {
  allowClients,
  initCluster,
  type PgServer,
  removeData,
  startServer,
} from "./support/pg-server.js";

const unavailable = netnsUnavailable();
if (unavailable && process.env.CI === "true")
  throw new Error(`network fault test: ${unavailable}, and CI=true requires it`);
if (unavailable) console.log(`[faults] network test skipped: ${unavailable}`);

let ns: LinkedNamespace | undefined;
let server: PgServer | undefined;
let dataDir: string | undefined;
let sql: Sql;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  if (unavailable) return;
  ns = createLinkedNamespace();
  dataDir = await initCluster();
  await allowClients(dataDir, `${ns.hostAddress}/30`);
  server = await startServer(dataDir, await freePort(), [], `127.0.0.1,${ns.hostAddress}`);
  sql = postgres(server.url, { max: 3, onnotice: () => {} });
  await new Migrator(sql, "docket").up();
  await sql`CREATE TABLE runs (job_id bigint, node text, attempt int, at timestamptz DEFAULT now())`;
}, 120_000);

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
  await sql?.end({ timeout: 1 });
  await server?.stop();
  ns?.destroy();
  await removeData(dataDir);
});

test.skipIf(unavailable !== undefined)(
  "a silent network: the node notices, its jobs come back, it works again",
  {
    timeout: 120_000,
  },
  async () => {
    const space = ns as LinkedNamespace;
    const db = server as PgServer;
    const remoteUrl = `postgres://postgres@${space.hostAddress}:${db.port}/postgres`;
    const a = await startNode(
      "node-a",
      remoteUrl,
      { ...fastMaintenance, leadership: false, queues: { work: 5, only_a: 1 } },
      space.exec,
    );
    nodes.push(a);
    const inserter = new Queue({ connection: db.url, poolSize: 2 });
    const jobs = await inserter.insertMany(
      "maintenance.work",
      Array.from({ length: 5 }, () => ({ blockOn: "node-a" })),
      { queue: "work", maxAttempts: 3 },
    );
    const ids = jobs.map((j) => j.id);
    await waitFor(
      async () => {
        const [row] = await sql<
          { n: number }[]
        >`SELECT count(*)::int AS n FROM runs WHERE node = 'node-a'`;
        return row?.n === 5;
      },
      { what: "node-a to run its five jobs" },
    );
    const b = await startNode("node-b", db.url, { ...fastMaintenance, queues: { work: 5 } });
    nodes.push(b);
    await b.next((l) => l.type === "leader" && l.isLeader === true);

    space.cut();
    const cutAt = Date.now();
    // node-a notices: its heartbeat gets no reply and says so, within the heartbeat timeout.
    const notice = await a.next(
      (l) =>
        l.type === "error" && l.source === "heartbeat" && /did not answer/.test(l.message ?? ""),
      30_000,
    );
    const noticedMs = notice.at - cutAt;
    // Its jobs come back: node-b rescues them and runs them to completion.
    await waitFor(
      async () => {
        const [row] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM docket.jobs
        WHERE id = ANY(${ids}::bigint[]) AND state = 'completed' AND attempted_by = 'node-b'`;
        return row?.n === 5;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: "node-a's jobs to be completed by node-b" },
    );
    const rescuedMs = Date.now() - cutAt;
    // A job only node-a can run, inserted while it is cut off.
    const probe = await inserter.insert("maintenance.work", { ms: 1 }, { queue: "only_a" });
    // Keep the link down a while longer (FAULT_CUT_SECONDS, default 5): TCP's retransmissions
    // back off meanwhile, which is what a longer outage costs once the link is back.
    const cutMs = Number(process.env.FAULT_CUT_SECONDS ?? 5) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutAt + cutMs - Date.now())));
    expect(a.child.exitCode).toBeNull();

    space.restore();
    const restoredAt = Date.now();
    await waitFor(async () => (await inserter.getJob(probe.id))?.state === "completed", {
      timeoutMs: 60_000,
      intervalMs: 50,
      what: "node-a to run a job once the link is back",
    });
    const recoveredMs = Date.now() - restoredAt;
    await inserter.stop();

    // node-a stops cleanly; what it reports for its old attempts does not undo node-b's outcomes.
    expect(await a.stop()).toBe(0);
    const rows = await sql<{ state: string; attempted_by: string; attempt: number }[]>`
    SELECT state::text, attempted_by, attempt FROM docket.jobs WHERE id = ANY(${ids}::bigint[])`;
    for (const row of rows)
      expect(row).toEqual({ state: "completed", attempted_by: "node-b", attempt: 2 });
    expect(await b.stop()).toBe(0);
    const errors = a.lines.filter((l) => l.type === "error");
    console.log(
      `[faults] network cut: node-a noticed after ${noticedMs} ms, its 5 jobs completed on node-b ${rescuedMs} ms after the cut; ` +
        `link down ${restoredAt - cutAt} ms; node-a ran a new job ${recoveredMs} ms after the link came back; ` +
        `node-a reported ${errors.length} errors: ${JSON.stringify([...new Set(errors.map((e) => `${e.source}: ${e.message}`))])}`,
    );
  },
);
