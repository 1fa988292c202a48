import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { z } from "zod";
import { withCleanupTargets } from "../cleanup/cleanup-options.js";
import { ConfigError } from "../errors.js";
import { type QueueOptions, queueOptionsSchema } from "../queue-options.js";
import { mergedOptionsError, type Origin, type Provenance, provenanceOf } from "./config-errors.js";
import { environmentLayer } from "./env.js";
import { shapeOf } from "./schema-walk.js";
import { type FileIssue, isPlainObject, joinPath, tomlToOptions } from "./toml-keys.js";

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Options in constructor form that win over the file and the environment. */
  overrides?: Partial<QueueOptions>;
  /** The environment to read; `process.env` (read when called) by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** When true, a missing file is no error: options come from the environment and overrides. */
  optional?: boolean;
  /** Names of known cleanup targets, to spell `CLEANUP_<TARGET>_*` variables' targets right. */
  cleanupTargets?: Iterable<string>;
}

/** A configuration read from a file, the environment and overrides, merged and checked. */
export interface LoadedConfig {
  /** The merged options, ready for `new Queue(options)`. */
  options: QueueOptions;
  /** Absolute paths of the `modules` the docket command imports to find workers and targets. */
  modules: string[];
  /** The absolute path of the file that was read, or undefined when there was none. */
  file: string | undefined;
}

/** Keys only the file has: the database URL (the constructor's `connection`) and `modules`. */
const fileOnlySchema = z.object({
  databaseUrl: z.string().min(1, "must be a postgres:// URL, not empty").optional(),
  modules: z.array(z.string().min(1, "must not be empty")).default([]),
});

/** The file's schema: the constructor's options without `connection`, plus the file-only keys. */
function fileSchema(): z.ZodType {
  const root = shapeOf(queueOptionsSchema);
  if (root.kind !== "object") throw new Error("queueOptionsSchema must be an object schema");
  const { connection: _connection, ...shape } = root.shape;
  return z.object({ ...shape, ...fileOnlySchema.shape }).strict();
}

async function readToml(
  path: string,
  optional: boolean,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && optional) return undefined;
    const reason = code === "ENOENT" ? "not found" : `cannot be read (${(error as Error).message})`;
    throw new ConfigError(`config file ${path} ${reason}`, { cause: error });
  }
  try {
    return parse(text, { unsafeKeyBehaviour: "throw" }) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = (error.message.split("\n")[0] ?? "").replace(/^Invalid TOML document:\s*/, "");
    throw new ConfigError(`${path}:${error.line}:${error.column}: invalid TOML: ${reason}`, {
      cause: error,
    });
  }
}

function mergeInto(
  base: Record<string, unknown>,
  layer: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? mergeInto(current, value) : value;
  }
  return out;
}

function namesOf(value: unknown): string[] {
  return isPlainObject(value) ? Object.keys(value) : [];
}

/**
 * Reads a `docket.toml`, the environment and overrides into one set of queue options.
 * Precedence: file < environment < overrides. Everything is checked against the same schema as
 * `new Queue()`; problems come back as one {@link ConfigError} naming each option as its
 * source spells it (`docket.toml: pruner.max_age: …`, `DOCKET_QUEUES: queues.mailers: …`).
 *
 * @example
 * ```ts
 * const { options, modules } = await loadConfig("docket.toml", { overrides: { workers } });
 * const queue = new Queue(options);
 * ```
 */
export async function loadConfig(
  path = "docket.toml",
  config: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const env = config.env ?? process.env;
  const overrides = { ...config.overrides } as Record<string, unknown>;
  // `cleanup: [target]` in code merges with the file's settings by name, not over them.
  if (Array.isArray(overrides.cleanup))
    overrides.cleanup = withCleanupTargets(overrides.cleanup, []);
  const document = await readToml(path, config.optional ?? false);
  const fileOrigin: Origin = { kind: "file", file: path };

  // The file: snake_case keys to constructor form, file-only keys checked and taken out.
  const schema = fileSchema();
  const issues: FileIssue[] = [];
  const misnamedUrl = document !== undefined && document !== null && "connection" in document;
  if (document && "connection" in document) {
    issues.push({
      path: ["connection"],
      message: 'unknown option (the database URL is "database_url")',
    });
    delete document.connection;
  }
  const converted = (document ? tomlToOptions(document, schema, issues) : {}) as Record<
    string,
    unknown
  >;
  // Every problem is collected and reported at once, not only the first one found.
  const problems: ConfigError[] = [];
  if (issues.length > 0) {
    const messages = issues.map((issue) => `${path}: ${joinPath(issue.path)}: ${issue.message}`);
    problems.push(
      new ConfigError(messages.join("; "), { path: joinPath((issues[0] as FileIssue).path) }),
    );
  }
  const { databaseUrl, modules: moduleKey, ...fileLayer } = converted;
  const fileOnly = fileOnlySchema.safeParse({ databaseUrl, modules: moduleKey });
  if (!fileOnly.success) {
    problems.push(
      mergedOptionsError(fileOnly.error, schema, [{ path: [], origin: fileOrigin }], converted),
    );
  } else if (fileOnly.data.databaseUrl !== undefined) {
    fileLayer.connection = fileOnly.data.databaseUrl;
  }

  const cleanupNames = [
    ...namesOf(fileLayer.cleanup),
    ...namesOf(overrides.cleanup),
    ...(config.cleanupTargets ?? []),
  ];
  const envLayer = environmentLayer(env, cleanupNames);

  // Tables merge key by key, except `queues`: it lists the queues this node runs, so a source
  // that sets it (DOCKET_QUEUES, the overrides) replaces the list of the sources below.
  let merged = fileLayer;
  for (const layer of [envLayer.values, overrides]) {
    const below = { ...merged };
    if (layer.queues !== undefined) delete below.queues;
    merged = mergeInto(below, layer);
  }
  const entries: Provenance[] = [
    ...provenanceOf(fileLayer, fileOrigin, isPlainObject),
    ...envLayer.sources.map((s) => ({
      path: s.path,
      origin: { kind: "env", variable: s.variable } as Origin,
    })),
    ...provenanceOf(overrides, { kind: "code" }, isPlainObject),
  ];

  // Not when the file gave one that is misnamed or malformed: that is reported already.
  const noUrl =
    merged.connection === undefined && !misnamedUrl && !(fileOnly.success === false && databaseUrl);
  if (noUrl) {
    problems.push(
      new ConfigError(
        `no database URL: set database_url in ${document ? path : "a docket.toml"}, the DOCKET_DATABASE_URL or DATABASE_URL environment variable, or pass connection in code`,
        { path: "connection" },
      ),
    );
  }
  // A missing URL is reported above; the other options are still checked.
  const checked =
    merged.connection === undefined ? { ...merged, connection: "postgres://unset" } : merged;
  const parsed = queueOptionsSchema.safeParse(checked);
  if (!parsed.success) {
    problems.push(
      mergedOptionsError(parsed.error, queueOptionsSchema, entries, merged, {
        connection: "database_url",
      }),
    );
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) {
    throw new ConfigError(problems.map((p) => p.message).join("; "), {
      path: problems[0]?.path as string,
      cause: problems,
    });
  }
  const root = dirname(resolve(path));
  const modules = fileOnly.success ? fileOnly.data.modules : [];
  return {
    options: merged as QueueOptions,
    modules: modules.map((module) => (isAbsolute(module) ? module : resolve(root, module))),
    file: document ? resolve(path) : undefined,
  };
}
