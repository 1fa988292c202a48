import { existsSync } from "node:fs";
import { relative } from "node:path";
import { pathToFileURL } from "node:url";
import { type CleanupTarget, isCleanupTarget, type Worker } from "docket";
import { CliError, oneLine } from "./cli-error.js";

/** What the config's `modules` export that docket can run. */
export interface LoadedModules {
  /** Workers made by `defineWorker`. */
  workers: Worker[];
  /** Cleanup targets made by `defineCleanupTarget`. */
  cleanupTargets: CleanupTarget[];
  /** Modules that export nothing docket can run, to warn about. */
  empty: string[];
}

/** A worker as `defineWorker` makes it: a name and a perform function. */
export function isWorker(value: unknown): value is Worker {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Worker).name === "string" &&
    typeof (value as Worker).perform === "function"
  );
}

type Found = { value: Worker | CleanupTarget; module: string };

/** Registers an export, once; two different exports with one name are an error naming both. */
function add(
  found: Map<string, Found>,
  kind: string,
  value: Worker | CleanupTarget,
  module: string,
): void {
  const seen = found.get(value.name);
  if (seen && seen.value !== value) {
    throw new CliError(
      `two ${kind} are named "${value.name}": one in ${seen.module}, one in ${module}`,
      {
        code: "DUPLICATE_NAME",
      },
    );
  }
  found.set(value.name, { value, module });
}

/**
 * Imports each module (absolute paths, in order) and collects its exports that are workers or
 * cleanup targets. The same export seen twice counts once.
 */
export async function loadModules(paths: readonly string[]): Promise<LoadedModules> {
  const workers = new Map<string, Found>();
  const targets = new Map<string, Found>();
  const empty: string[] = [];
  for (const path of paths) {
    const shown = relative(process.cwd(), path) || path;
    if (!existsSync(path)) {
      throw new CliError(`module ${shown} (listed in "modules") does not exist; build it first?`, {
        code: "MODULE_NOT_FOUND",
      });
    }
    let namespace: Record<string, unknown>;
    try {
      namespace = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CliError(oneLine(`cannot import module ${shown}: ${reason}`), {
        code: "MODULE_FAILED",
        cause: error,
      });
    }
    let count = 0;
    for (const value of Object.values(namespace)) {
      if (isCleanupTarget(value)) add(targets, "cleanup targets", value, shown);
      else if (isWorker(value)) add(workers, "workers", value, shown);
      else continue;
      count++;
    }
    if (count === 0) empty.push(shown);
  }
  return {
    workers: [...workers.values()].map((entry) => entry.value as Worker),
    cleanupTargets: [...targets.values()].map((entry) => entry.value as CleanupTarget),
    empty,
  };
}
