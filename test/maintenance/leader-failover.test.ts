// Three nodes in three processes: exactly one leads; when it is killed with SIGKILL (no chance to
// give up its lease), exactly one of the others takes over within one lease ttl.
import { afterAll, expect, test } from "vitest";
import { useTestDatabase } from "../support/database.js";
import { type NodeProcess, startNode } from "./support.js";

const db = useTestDatabase();
const nodes: NodeProcess[] = [];
const ttlSeconds = 3;
const options = { queues: {}, leadership: { ttl: ttlSeconds }, pruner: false, lifeline: false };

afterAll(async () => {
  for (const node of nodes) node.child.kill("SIGKILL");
});

const leads = (node: NodeProcess) => node.lines.filter((l) => l.type === "leader" && l.isLeader);

async function leaseHolder(): Promise<string | undefined> {
  const [row] = await db.sql<{ node: string }[]>`
    SELECT node FROM docket.leaders WHERE name = 'docket' AND expires_at > now()`;
  return row?.node;
}

test("one leader among three nodes, and a new one within one ttl after it is killed", {
  timeout: 60_000,
}, async () => {
  for (const name of ["p1", "p2", "p3"]) nodes.push(await startNode(name, db.url, options));

  // For two renewal periods and more: one leader, named by the lease, and no other ever claims it.
  const leader = nodes.find((n) => leads(n).length > 0) as NodeProcess;
  expect(leader).toBeDefined();
  const until = Date.now() + (2 * ttlSeconds * 1000) / 3 + 500;
  while (Date.now() < until) {
    expect(await leaseHolder()).toBe(leader.name);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(nodes.map((n) => leads(n).length)).toEqual(nodes.map((n) => (n === leader ? 1 : 0)));

  await leader.kill();
  const killedAt = Date.now();
  const others = nodes.filter((n) => n !== leader);
  const successor = await Promise.any(
    others.map((n) => n.next((l) => l.type === "leader" && l.isLeader === true)),
  );
  const takeoverMs = successor.at - killedAt;
  console.log(
    `[maintenance] leader SIGKILLed, ${successor.node} took over after ${takeoverMs}ms (ttl ${ttlSeconds}s)`,
  );
  // The lease runs out at most ttl after the kill (it was renewed before), and a follower tries
  // again when the lease it saw runs out, or at the latest ttl / 3 later; then 3 s of slack for a
  // loaded machine.
  expect(takeoverMs).toBeLessThan((ttlSeconds * 1000 * 4) / 3 + 3_000);
  expect(await leaseHolder()).toBe(successor.node);

  // The other survivor stays a follower.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(others.map((n) => leads(n).length).sort()).toEqual([0, 1]);
  for (const node of others) expect(await node.stop()).toBe(0);
  expect(await leaseHolder()).toBeUndefined(); // the successor gave its lease up on stop
});
