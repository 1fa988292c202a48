// A real PgBouncer (Debian's `pgbouncer`) in front of the test server, for the pooler tests.
// Outside CI a machine without it skips those tests with one printed line; under CI=true its
// absence fails the run (.ci/run installs it).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./embedded-server.js";

const candidates = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"];

/** Where the pgbouncer program is, or null. */
export function findPgBouncer(): string | null {
  for (const path of candidates) {
    if (spawnSync(path, ["--version"]).status === 0) return path;
  }
  const which = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : null;
}

/**
 * Whether the pooler tests can run here. Prints the one line of a skip; throws under CI.
 *
 * @example
 * ```ts
 * describe.skipIf(!pgBouncerAvailable())("through PgBouncer", () => { … });
 * ```
 */
export function pgBouncerAvailable(): boolean {
  if (findPgBouncer()) return true;
  const how = "install it with `apt-get install -y pgbouncer` (Debian/Ubuntu)";
  if (process.env.CI === "true") throw new Error(`pgbouncer is required under CI=true: ${how}`);
  console.log(`[docket tests] pgbouncer not found: pooler tests skipped; ${how}`);
  return false;
}

/** A running PgBouncer. */
export interface PgBouncer {
  /** `url` with host and port replaced by the pooler's. */
  via(url: string): string;
  /** PgBouncer's version line, e.g. "PgBouncer 1.18.0". */
  version: string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer in `mode` in front of the server of `serverUrl` (any database, the URL's user
 * and password). Waits until it accepts connections.
 */
export async function startPgBouncer(
  serverUrl: string,
  mode: "transaction" | "session" = "transaction",
): Promise<PgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error("pgbouncer not found");
  const server = new URL(serverUrl);
  const dir = await mkdtemp(join(tmpdir(), "docket-pgbouncer-"));
  const port = await freePort();
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  await writeFile(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port} user=${user} password=${password}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      `pool_mode = ${mode}`,
      "max_client_conn = 500",
      "default_pool_size = 20",
      "ignore_startup_parameters = extra_float_digits,options,statement_timeout,lock_timeout,tcp_keepalives_idle,tcp_keepalives_interval,tcp_keepalives_count,tcp_user_timeout",
      `pidfile = ${join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
  );
  await writeFile(join(dir, "users.txt"), `"${user}" ""\n`);
  await chmod(dir, 0o777);
  const args = [join(dir, "pgbouncer.ini")];
  // PgBouncer refuses to run as root.
  if (process.getuid?.() === 0) args.unshift("-u", "postgres");
  const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const versionLine = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
  try {
    await acceptsConnections(port, child);
  } catch (error) {
    child.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
    throw new Error(`pgbouncer did not start: ${output}`, { cause: error });
  }
  return {
    version: versionLine ?? "PgBouncer",
    via(url) {
      const parsed = new URL(url);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(port);
      return parsed.toString();
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGINT");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once something accepts TCP connections on `port`; fails if `child` exits first. */
async function acceptsConnections(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error("no connection within 10s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
