// Child-process docket nodes for the maintenance tests: each runs test/fixtures/maintenance-node.mjs
// on the built library and reports events as JSON lines, which these helpers collect and await.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("../fixtures/maintenance-node.mjs", import.meta.url));
const built = fileURLToPath(new URL("../../packages/docket/dist/index.js", import.meta.url));

/** One line a node printed, with the time the test received it. */
export interface NodeLine {
  type: "ready" | "leader" | "start" | "rescue" | "error" | "stopped";
  node: string;
  /** Date.now() in the child when it printed the line. */
  at: number;
  isLeader?: boolean;
  id?: string;
  ids?: string[];
  source?: string;
  message?: string;
}

/** A docket node in a child process. */
export interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: NodeLine[];
  /** Everything printed, for failure messages. */
  readonly output: () => string;
  /** Resolves with the first line (already printed or to come) that matches. */
  next(match: (line: NodeLine) => boolean, timeoutMs?: number): Promise<NodeLine>;
  /** SIGKILL, as a crash or an OOM kill would; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM: a clean stop; resolves with the exit code. */
  stop(): Promise<number | string>;
}

/** Starts a node and resolves once its queue has started. Options go into `new Queue()`. */
export async function startNode(
  name: string,
  url: string,
  options: Record<string, unknown>,
): Promise<NodeProcess> {
  if (!existsSync(built)) {
    throw new Error(
      "the maintenance tests run the built library: run `npx -y pnpm@10 run build` first",
    );
  }
  const child = spawn(process.execPath, [fixture], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      NODE_NAME: name,
      DOCKET_OPTIONS: JSON.stringify(options),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: NodeLine[] = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  let buffer = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    raw.push(chunk.toString());
    buffer += chunk.toString();
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (text.startsWith("{")) lines.push(JSON.parse(text) as NodeLine);
    }
    for (const wake of waiters) wake();
  });
  child.stderr?.on("data", (chunk: Buffer) => raw.push(chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
      for (const wake of waiters) wake();
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const next = (match: (line: NodeLine) => boolean, timeoutMs = 20_000) =>
    new Promise<NodeLine>((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (found) return done(() => resolve(found));
        if (gone)
          done(() => reject(new Error(`node ${name} exited while awaited:\n${raw.join("")}`)));
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new Error(`node ${name}: timed out after ${timeoutMs}ms:\n${raw.join("")}`)),
          ),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  const node: NodeProcess = {
    name,
    child,
    lines,
    output: () => raw.join(""),
    next,
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
  await next((line) => line.type === "ready");
  return node;
}

/** Options that make maintenance fast enough for tests (durations in seconds). */
export const fastMaintenance = {
  pollInterval: 0.2,
  stageInterval: 0.2,
  poolSize: 4,
  heartbeat: { interval: 0.5, timeout: 2 },
  lifeline: { interval: 1, rescueAfter: 3600 },
  leadership: { ttl: 2 },
  pruner: false,
};
