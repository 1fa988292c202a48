// `docket start --health-port` and `--queues`: Kubernetes-style probes over real HTTP against a
// real node, and a node that runs only some of its config's queues.
import { createServer } from "node:net";
import postgres from "postgres";
import { describe, expect, test } from "vitest";
import { useTestDatabase } from "../support/database.js";
import { waitFor } from "../support/wait.js";
import { runCli, startCli } from "./cli-process.js";

const db = useTestDatabase();
const config = "examples/basic/docket.toml";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function get(port: number, path: string) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => null);
  return response && { status: response.status, body: await response.text() };
}

describe("docket start --health-port", () => {
  test("serves /healthz and /readyz: ready once started, 503 while the database is away", {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const env = { DOCKET_DATABASE_URL: db.url, DOCKET_NODE: "probe-node" };
    const docket = startCli(
      [
        "start",
        "--config",
        config,
        "--queues",
        "mailers",
        "--health-port",
        String(port),
        "--health-host",
        "127.0.0.1",
      ],
      { env },
    );
    await docket.waitForStderr(/docket started/);
    const ready = await get(port, "/readyz");
    expect(ready?.status).toBe(200);
    const health = JSON.parse(ready?.body ?? "{}");
    expect(health).toMatchObject({
      ready: true,
      state: "started",
      database: { reachable: true, error: null },
      listening: true,
      ackBacklogged: false,
    });
    // --queues: only mailers runs here, with its configured limit.
    expect(health.queues).toEqual([
      expect.objectContaining({ queue: "mailers", limit: 10, paused: false }),
    ]);
    await waitFor(async () => {
      const rows = await db.sql`SELECT queue FROM docket.producers WHERE node = 'probe-node'`;
      return rows.length === 1 && rows[0]?.queue === "mailers";
    });
    const alive = await get(port, "/healthz");
    expect(alive?.status).toBe(200);
    expect(JSON.parse(alive?.body ?? "{}")).toEqual({ alive: true, state: "started" });
    expect((await get(port, "/metrics"))?.status).toBe(404);

    // The database goes away for this node: its connections are killed and new ones refused
    // (from a connection to another database, which stays up).
    const adminUrl = new URL(db.url);
    adminUrl.pathname = "/postgres";
    const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
    await admin`ALTER DATABASE ${admin(db.name)} WITH ALLOW_CONNECTIONS false`;
    try {
      await admin`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${db.name}`;
      await waitFor(async () => (await get(port, "/readyz"))?.status === 503, {
        what: "/readyz 503 while the database refuses connections",
      });
      const down = JSON.parse((await get(port, "/readyz"))?.body ?? "{}");
      expect(down.ready).toBe(false);
      expect(down.database.reachable).toBe(false);
      expect((await get(port, "/healthz"))?.status).toBe(200);
    } finally {
      await admin`ALTER DATABASE ${admin(db.name)} WITH ALLOW_CONNECTIONS true`;
      await admin.end();
    }
    await waitFor(async () => (await get(port, "/readyz"))?.status === 200, {
      what: "/readyz 200 once the database is back",
      timeoutMs: 30_000,
    });
    docket.child.kill("SIGTERM");
    expect((await docket.exited).code).toBe(0);
    expect(await get(port, "/healthz")).toBe(null);
  });

  test("refuses a bad port or an unknown queue before connecting", async () => {
    const env = { DOCKET_DATABASE_URL: db.url };
    const badPort = await runCli(["start", "--config", config, "--health-port", "70000"], { env });
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toBe(
      'docket: --health-port must be a port from 1 to 65535, got "70000"\n',
    );
    const unknown = await runCli(["start", "--config", config, "--queues", "nope"], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      "docket: --queues: nope is not a queue of the config (known: default, mailers); give it a limit as nope:N\n",
    );
  });
});
