import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("../fixtures/node.mjs", import.meta.url));

/** A docket node running in a child process. */
export interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it printed, for the test's failure messages. */
  readonly output: string[];
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts one node and resolves once it has started its queue. Options go into `new Queue()`.
 */
export async function startNode(
  name: string,
  url: string,
  options: Record<string, unknown>,
  jobMs = 0,
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [fixture], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      NODE_NAME: name,
      DOCKET_OPTIONS: JSON.stringify(options),
      JOB_MS: String(jobMs),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join("").includes("ready")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then((code) =>
      reject(new Error(`node ${name} exited (${code}) before it was ready:\n${output.join("")}`)),
    );
  });
  return { name, child, output, exited };
}

/** Stops a node with SIGTERM and returns the summary it printed. */
export async function stopNode(
  node: NodeProcess,
): Promise<{ errors: number; ledgerErrors: number }> {
  node.child.kill("SIGTERM");
  const code = await node.exited;
  if (code !== 0)
    throw new Error(`node ${node.name} exited with ${code}:\n${node.output.join("")}`);
  const line = node.output
    .join("")
    .split("\n")
    .find((l) => l.startsWith("{"));
  return JSON.parse(line ?? "{}");
}

/** Kills a node with SIGKILL, as a crash or an OOM kill would, and waits for it to be gone. */
export async function killNode(node: NodeProcess): Promise<void> {
  node.child.kill("SIGKILL");
  await node.exited;
}

/** Options that make rescue fast enough for tests: heartbeats, lifeline and lease in seconds. */
export const fastMaintenance = {
  pollInterval: 0.2,
  stageInterval: 0.2,
  poolSize: 4,
  heartbeat: { interval: 0.5, timeout: 2 },
  lifeline: { interval: 1, rescueAfter: 60 },
  leadership: { ttl: 2 },
};
