// A throwaway server from the Debian PostgreSQL packages (BENCH_PG=15: /usr/lib/postgresql/15/bin),
// so that the benchmark runs on the version production installations run, beside the embedded 17.
// initdb and the server run as the `postgres` user (through `su`), with the data in a temporary
// directory that `stop()` deletes. Durability stays on.

import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../test/support/embedded-server.js";

const run = promisify(execFile);

/** A running Debian server. */
export interface DebianServer {
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** Runs one command as the `postgres` user; every argument is quoted, none is pasted raw. */
async function asPostgres(argv: string[]): Promise<string> {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const { stdout } = await run("su", ["postgres", "-s", "/bin/sh", "-c", quoted], {
    maxBuffer: 1 << 20,
  });
  return stdout;
}

/** Starts `/usr/lib/postgresql/<version>/bin/postgres` with `flags` (`name=value` settings). */
export async function startDebianServer(version: string, flags: string[]): Promise<DebianServer> {
  if (!/^\d+$/.test(version)) throw new Error(`BENCH_PG: expected a major version, got ${version}`);
  const bin = `/usr/lib/postgresql/${version}/bin`;
  const dir = await mkdtemp(join(tmpdir(), `docket-pg${version}-`));
  await chmod(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  await asPostgres([
    `${bin}/initdb`,
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "--encoding=UTF8",
    "--no-sync",
  ]);
  const settings = [`port=${port}`, `unix_socket_directories=${dir}`, ...flags];
  await asPostgres([
    `${bin}/pg_ctl`,
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    settings.map((s) => `-c ${s}`).join(" "),
    "start",
  ]);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await asPostgres([`${bin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]).catch(() => "");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
