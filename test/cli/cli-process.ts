// Runs the built `docket` command as a child process, the way operators run it.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const bin = fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url));

/** The environment of a child: the test runner's, minus every variable docket would read. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value === undefined ||
      key === "DATABASE_URL" ||
      /^(DOCKET|CLEANUP)_/.test(key) ||
      key.startsWith("VITEST")
    )
      continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

function checkBuilt(): void {
  if (!existsSync(bin))
    throw new Error(`${bin} is missing: run \`npx -y pnpm@10 run build\` first`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `docket ...args` to completion. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return runNode([bin, ...args], options);
}

/** Runs `node ...args` to completion (the CLI, or another process such as an example script). */
export function runNode(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  checkBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ?? root,
      env: childEnv(options.env),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A long-running `docket` process (`start`), with helpers to wait on its output and its exit. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once stderr matches `pattern`; rejects if the process exits first or time runs out. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the result once the process has exited. */
  exited: Promise<CliResult>;
}

export function startCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): RunningCli {
  checkBuilt();
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? root,
    env: childEnv(options.env),
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    for (const listener of listeners) listener();
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      for (const listener of listeners) listener();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let done = false;
  exited.then(() => (done = true));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForStderr(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${pattern} on stderr:\n${stderr}`)),
          timeoutMs,
        );
        const finish = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (pattern.test(stderr)) finish();
          else if (done || child.exitCode !== null)
            finish(new Error(`docket exited before ${pattern} appeared:\n${stderr}`));
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** True when no line of the output looks like a stack frame. */
export function hasNoStackTrace(text: string): boolean {
  return !/^\s+at .+:\d+:\d+\)?$/m.test(text);
}
