import { beforeEach, describe, expect, test } from "vitest";
import { useTestDatabase } from "../../../../test/support/database.js";
import { queueFactory } from "../../../../test/support/queues.js";
import { nextEvent, waitFor } from "../../../../test/support/wait.js";
import { ConfigError } from "../errors.js";
import { Queue } from "../queue.js";
import { defineWorker } from "../workers/define-worker.js";
import type { PluginContext } from "./plugin.js";

const db = useTestDatabase();
const makeQueue = queueFactory(db);
const leadership = { ttl: 3 };

async function leaseHolder(): Promise<string | undefined> {
  const [row] = await db.sql<{ node: string }[]>`
    SELECT node FROM docket.leaders WHERE name = 'docket' AND expires_at > now()`;
  return row?.node;
}

beforeEach(async () => {
  await db.sql`TRUNCATE docket.leaders, docket.producers, docket.jobs`;
});

describe("leader election", () => {
  test("of three nodes exactly one leads at a time, and another takes over when it stops", async () => {
    const nodes = ["n1", "n2", "n3"].map((node) => makeQueue({ node, leadership }));
    const changes: string[] = [];
    for (const queue of nodes) {
      queue.on("leader:change", ({ isLeader, node }) => changes.push(`${node}:${isLeader}`));
    }
    await Promise.all(nodes.map((q) => q.start()));

    // Sample for two renewal periods: never more than one leader, and the lease names it.
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      const leaders = nodes.filter((q) => q.isLeader);
      expect(leaders.length).toBeLessThanOrEqual(1);
      if (leaders[0]) expect(await leaseHolder()).toBe(leaders[0].node);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const first = nodes.find((q) => q.isLeader) as Queue;
    expect(first).toBeDefined();
    expect(changes).toEqual([`${first.node}:true`]);

    // A clean stop gives the lease up at once and another node takes over (how fast it is woken
    // is checked in the next test, with a retry too slow to explain it).
    const stoppedAt = Date.now();
    const takeover = new Promise<string>((resolve) => {
      for (const queue of nodes) {
        queue.on("leader:change", ({ isLeader, node }) => isLeader && resolve(node));
      }
    });
    await first.stop();
    expect(first.isLeader).toBe(false);
    expect(await leaseHolder()).not.toBe(first.node);
    const second = await takeover;
    // Even without the NOTIFY a follower retries every ttl / 3 = 1 s: 3 s is three times that.
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    expect(second).not.toBe(first.node);
    expect(nodes.filter((q) => q.isLeader).map((q) => q.node)).toEqual([second]);
    expect(await leaseHolder()).toBe(second);
    expect(changes).toEqual([`${first.node}:true`, `${first.node}:false`, `${second}:true`]);
  });

  test("a clean stop wakes the followers by NOTIFY, long before their own retry", async () => {
    // ttl 30 s: a follower that saw a live lease retries only after ttl / 3 = 10 s, so a takeover
    // within 3 s can only come from the release NOTIFY.
    const slow = { ttl: 30 };
    const first = makeQueue({ node: "first", leadership: slow });
    await first.start();
    expect(first.isLeader).toBe(true);
    // Started after the lease exists, so no follower is in a quick retry after a lost race.
    const followers = ["f1", "f2"].map((node) => makeQueue({ node, leadership: slow }));
    await Promise.all(followers.map((q) => q.start()));
    expect(followers.some((q) => q.isLeader)).toBe(false);
    const takeover = Promise.race(
      followers.map((q) => nextEvent(q, "leader:change", ({ isLeader }) => isLeader, 10_000)),
    );
    const stoppedAt = Date.now();
    await first.stop();
    const [{ node }] = await takeover;
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    expect(await leaseHolder()).toBe(node);
  });

  test("a node that was leader stays leader across many renewals", async () => {
    const queue = makeQueue({ node: "solo", leadership: { ttl: 1 } });
    await queue.start();
    expect(queue.isLeader).toBe(true);
    const [lease] = await db.sql<{ expires_at: Date }[]>`SELECT expires_at FROM docket.leaders`;
    const steps: boolean[] = [];
    queue.on("leader:change", ({ isLeader }) => steps.push(isLeader));
    // Every renewal (each moves expires_at on): still leader, still its lease, never a step-down.
    let last = lease?.expires_at as Date;
    let renewals = 0;
    await waitFor(
      async () => {
        const [row] = await db.sql<{ node: string; expires_at: Date }[]>`
          SELECT node, expires_at FROM docket.leaders`;
        if (row && +row.expires_at > +last) {
          renewals++;
          last = row.expires_at;
          expect(row.node).toBe("solo");
          expect(queue.isLeader).toBe(true);
        }
        return renewals >= 6;
      },
      { intervalMs: 10, what: "six renewals" },
    );
    expect(steps).toEqual([]);
    expect(queue.isLeader).toBe(true);
  });

  test("an expired lease of a vanished node is taken over", async () => {
    await db.sql`
      INSERT INTO docket.leaders (name, node, elected_at, expires_at)
      VALUES ('docket', 'vanished', now() - interval '1 minute', now() + interval '800 ms')`;
    const queue = makeQueue({ node: "heir", leadership });
    await queue.start();
    expect(queue.isLeader).toBe(false);
    await nextEvent(queue, "leader:change", () => true, 5_000);
    expect(queue.isLeader).toBe(true);
    expect(await leaseHolder()).toBe("heir");
  });

  test("leadership: false keeps a node out of the election", async () => {
    const queue = makeQueue({ leadership: false });
    await queue.start();
    expect(queue.isLeader).toBe(false);
    expect(await leaseHolder()).toBeUndefined();
  });

  test("a ttl under one second is refused, naming the option", () => {
    expect(() => new Queue({ connection: db.url, leadership: { ttl: "500ms" } })).toThrow(
      ConfigError,
    );
    expect(() => new Queue({ connection: db.url, leadership: { ttl: "500ms" } })).toThrow(
      /leadership\.ttl/,
    );
  });
});

describe("the stager runs on the leader only", () => {
  test("due jobs wait until some node leads", async () => {
    const ran: string[] = [];
    const worker = defineWorker({
      name: "stage.me",
      async perform(job) {
        ran.push(job.id);
      },
    });
    const follower = makeQueue({
      node: "follower",
      leadership: false,
      queues: { default: 2 },
      workers: [worker],
    });
    await follower.start();
    const job = await follower.insert(worker, {}, { scheduleIn: 0.1 });
    // Long enough for a stager on this node to have run many times (stageInterval is 50ms).
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await follower.getJob(job.id))?.state).toBe("scheduled");

    const leader = makeQueue({ node: "leader", leadership });
    await leader.start();
    expect(leader.isLeader).toBe(true);
    await waitFor(async () => (await follower.getJob(job.id))?.state === "completed");
    expect(ran).toEqual([job.id]);
  });
});

describe("producer heartbeats", () => {
  test("a started node keeps one row per queue fresh, and removes them on stop", async () => {
    const queue = makeQueue({
      node: "beating",
      queues: { a: 3, b: { limit: 7 } },
      heartbeat: { interval: 0.2, timeout: 1 },
    });
    await queue.start();
    const rows = () =>
      db.sql<{ queue: string; concurrency: number; heartbeat_at: Date; started_at: Date }[]>`
        SELECT queue, concurrency, heartbeat_at, started_at FROM docket.producers
        WHERE node = 'beating' ORDER BY queue`;
    const first = await rows();
    expect(first.map((r) => [r.queue, r.concurrency])).toEqual([
      ["a", 3],
      ["b", 7],
    ]);
    await waitFor(async () => {
      const now = await rows();
      return now.every(
        (r, i) => +r.heartbeat_at > +(first[i] as { heartbeat_at: Date }).heartbeat_at,
      );
    });
    await queue.stop();
    expect(await rows()).toEqual([]);
  });

  test("the leader deletes the rows of producers that stopped heartbeating", async () => {
    await db.sql`
      INSERT INTO docket.producers (node, queue, started_at, heartbeat_at, concurrency)
      VALUES ('dead', 'default', now() - interval '1 hour', now() - interval '10 minutes', 5),
             ('alive', 'default', now(), now() + interval '1 hour', 5)`;
    const queue = makeQueue({ node: "cleaner", heartbeat: { interval: 0.2, timeout: 1 } });
    await queue.start();
    await waitFor(async () => {
      const nodes = await db.sql<
        { node: string }[]
      >`SELECT node FROM docket.producers ORDER BY node`;
      return nodes.map((n) => n.node).join() === "alive" || undefined;
    });
  });

  test("heartbeat.timeout must be at least twice the interval", () => {
    expect(
      () => new Queue({ connection: db.url, heartbeat: { interval: "5s", timeout: "6s" } }),
    ).toThrow(/heartbeat\.timeout: must be at least twice heartbeat\.interval/);
  });
});

describe("plugins", () => {
  test("a user plugin is started with a context, follows leadership, and is stopped", async () => {
    const seen: string[] = [];
    const plugin = {
      name: "probe",
      start(context: PluginContext) {
        seen.push(`start:${context.node}:${context.schema}:${context.isLeader()}`);
        context.onLeadershipChange((isLeader) => seen.push(`leader:${isLeader}`));
      },
      stop() {
        seen.push("stop");
      },
    };
    const queue = makeQueue({ node: "host", plugins: [plugin], leadership });
    await queue.start();
    const names = queue.plugins.map((p) => p.name);
    expect(names.slice(0, 2)).toEqual(["pruner", "lifeline"]); // built-ins first
    expect(names.at(-1)).toBe("probe"); // then the user's
    await queue.stop();
    expect(seen).toEqual(["start:host:docket:false", "leader:true", "leader:false", "stop"]);
  });

  test("two plugins of one name are refused", () => {
    const plugin = { name: "pruner", start() {}, stop() {} };
    expect(() => new Queue({ connection: db.url, plugins: [plugin] })).toThrow(
      /two plugins are named "pruner"/,
    );
    // Turned off, the built-in makes room for one of the same name.
    const replaced = new Queue({ connection: db.url, pruner: false, plugins: [plugin] });
    expect(replaced.plugins.filter((p) => p.name === "pruner")).toEqual([plugin]);
  });
});
