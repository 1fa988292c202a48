// Starts trial.ts in a child process and waits for its answer.

import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { TrialMessage, TrialRequest } from "./trial.js";

const trialFile = fileURLToPath(new URL("./trial.ts", import.meta.url));

/** A running trial process: its events as they come, and its result. */
export interface TrialHandle {
  child: ChildProcess;
  result: Promise<unknown>;
  /** Resolves with the time (Date.now() in the child) of the first event of that name. */
  event(name: string): Promise<{ at: number; data?: unknown }>;
}

/** Forks a trial process for `request`; it is killed if it takes longer than `timeoutMs`. */
export function startTrial(request: TrialRequest, timeoutMs: number): TrialHandle {
  const child = fork(trialFile, [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const seen = new Map<string, { at: number; data?: unknown }>();
  const waiting = new Map<string, ((e: { at: number; data?: unknown }) => void)[]>();
  const result = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`trial ${request.kind} timed out after ${timeoutMs}ms`));
    }, timeoutMs);
    child.on("message", (message: TrialMessage) => {
      if (message.type === "event") {
        const entry = { at: message.at, data: message.data };
        if (!seen.has(message.event)) seen.set(message.event, entry);
        for (const resolveEvent of waiting.get(message.event) ?? []) resolveEvent(entry);
        waiting.delete(message.event);
      } else if (message.type === "result") {
        clearTimeout(timer);
        resolve(message.result);
      } else {
        clearTimeout(timer);
        reject(new Error(`trial ${request.kind} failed: ${message.error}`));
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`trial ${request.kind} exited (${signal ?? code}) without a result`));
    });
  });
  result.catch(() => {}); // observed by the caller; avoid an unhandled rejection meanwhile
  child.send(request);
  return {
    child,
    result,
    event(name) {
      const known = seen.get(name);
      if (known) return Promise.resolve(known);
      return new Promise((resolve) => {
        const list = waiting.get(name) ?? [];
        list.push(resolve);
        waiting.set(name, list);
      });
    },
  };
}

/** Runs one trial to its end. */
export function runTrial<R>(request: TrialRequest, timeoutMs = 600_000): Promise<R> {
  return startTrial(request, timeoutMs).result as Promise<R>;
}
