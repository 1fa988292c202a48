import { ConfigError } from "../errors.js";

/**
 * Options from environment variables. They override the config file and are overridden by
 * options passed in code. Empty variables count as unset.
 *
 * | variable                    | option                       |
 * | --------------------------- | ---------------------------- |
 * | `DOCKET_DATABASE_URL`       | `connection` (first choice)  |
 * | `DATABASE_URL`              | `connection`                 |
 * | `DOCKET_SCHEMA`             | `schema`                     |
 * | `DOCKET_QUEUES`             | `queues` (`default:10,mailers:5`, replaces the file's) |
 * | `DOCKET_NODE`               | `node`                       |
 * | `DOCKET_PARTITIONED`        | `partitioned` (`true`/`false`, `1`/`0`) |
 * | `CLEANUP_<TARGET>_CRON`     | `cleanup.<Target>.schedule`  |
 * | `CLEANUP_<TARGET>_TIMEOUT`  | `cleanup.<Target>.timeout`   |
 */

/** Where one value of the environment layer came from. */
export interface EnvSource {
  path: PropertyKey[];
  variable: string;
}

/** The options the environment sets, in constructor form, and which variable set each. */
export interface EnvLayer {
  values: Record<string, unknown>;
  sources: EnvSource[];
}

/** `DeploymentLogRecord` → `DEPLOYMENT_LOG_RECORD`, `OIDCState` → `OIDC_STATE`. */
export function screamingSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
}

/** `DEPLOYMENT_LOG_RECORD` → `DeploymentLogRecord`, for targets no other source names. */
function pascalCase(screaming: string): string {
  return screaming
    .split("_")
    .filter(Boolean)
    .map((part) => part[0] + part.slice(1).toLowerCase())
    .join("");
}

/**
 * Parses `DOCKET_QUEUES`: `name:limit` pairs separated by commas, `"default:10,mailers:5"`.
 * Limits are checked by the options schema later, so that the message is the usual one.
 */
export function parseQueuesVariable(
  text: string,
  variable = "DOCKET_QUEUES",
): Record<string, number> {
  const queues: Record<string, number> = {};
  for (const part of text.split(",")) {
    const item = part.trim();
    if (item === "") continue;
    const match = /^([^:\s]+)\s*:\s*(-?\d+)$/.exec(item);
    if (!match) {
      throw new ConfigError(
        `${variable}: ${JSON.stringify(item)} is not name:limit; write it like "default:10,mailers:5"`,
        { path: variable },
      );
    }
    queues[match[1] as string] = Number(match[2]);
  }
  return queues;
}

const cleanupPattern = /^CLEANUP_([A-Z0-9_]+?)_(CRON|TIMEOUT)$/;

/**
 * Reads docket's variables from `env`. Cleanup variables name their target in
 * SCREAMING_SNAKE_CASE; `cleanupNames` (targets known from the file, the code or loaded
 * modules) gives the target's real spelling, and a target no one names is PascalCased.
 */
export function environmentLayer(
  env: Readonly<Record<string, string | undefined>>,
  cleanupNames: Iterable<string> = [],
): EnvLayer {
  const values: Record<string, unknown> = {};
  const sources: EnvSource[] = [];
  const set = (path: string[], value: unknown, variable: string) => {
    let target = values;
    for (const key of path.slice(0, -1)) {
      target[key] ??= {};
      target = target[key] as Record<string, unknown>;
    }
    target[path[path.length - 1] as string] = value;
    sources.push({ path, variable });
  };
  const read = (name: string) => {
    const value = env[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };

  const url = read("DOCKET_DATABASE_URL") ?? read("DATABASE_URL");
  if (url !== undefined) {
    set(
      ["connection"],
      url,
      read("DOCKET_DATABASE_URL") !== undefined ? "DOCKET_DATABASE_URL" : "DATABASE_URL",
    );
  }
  const schema = read("DOCKET_SCHEMA");
  if (schema !== undefined) set(["schema"], schema, "DOCKET_SCHEMA");
  const node = read("DOCKET_NODE");
  if (node !== undefined) set(["node"], node, "DOCKET_NODE");
  const partitioned = read("DOCKET_PARTITIONED");
  if (partitioned !== undefined) {
    const flag = { true: true, "1": true, false: false, "0": false }[partitioned.toLowerCase()];
    if (flag === undefined) {
      throw new ConfigError(
        `DOCKET_PARTITIONED: expected true, false, 1 or 0, got ${JSON.stringify(partitioned)}`,
      );
    }
    set(["partitioned"], flag, "DOCKET_PARTITIONED");
  }
  const queues = read("DOCKET_QUEUES");
  if (queues !== undefined) set(["queues"], parseQueuesVariable(queues), "DOCKET_QUEUES");

  const spelling = new Map<string, string>();
  for (const name of cleanupNames) spelling.set(screamingSnake(name), name);
  for (const variable of Object.keys(env).sort()) {
    const match = cleanupPattern.exec(variable);
    const value = read(variable);
    if (!match || value === undefined) continue;
    const screaming = match[1] as string;
    const target = spelling.get(screaming) ?? pascalCase(screaming);
    set(["cleanup", target, match[2] === "CRON" ? "schedule" : "timeout"], value, variable);
  }
  return { values, sources };
}
