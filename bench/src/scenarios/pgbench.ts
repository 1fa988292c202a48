// The floor: pgbench running docket's own claim (the producer's fetch) and completion (the
// acker's UPDATE, reduced to completing) in batches, with no Node.js in the loop. It shows what
// the database and the disk allow for this schema; the gap to docket is the client's cost.

import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { createSystem } from "../systems/index.js";
import { checkpoint } from "./checks.js";

/** What one pgbench trial measured. */
export interface PgbenchResult {
  jobsPerSec: number;
  lost: number;
  duplicates: number;
  pgbench: string;
}

/** The pgbench binary, or null when there is none on this machine. */
export function findPgbench(): string | null {
  const candidate = process.env.BENCH_PGBENCH ?? "pgbench";
  const probe = spawnSync(candidate, ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? candidate : null;
}

/**
 * One script run claims a batch as docket's fetch does (same CTE, same index) and completes the
 * batch in a second statement, as the acker does; both in autocommit, two commits per batch,
 * like docket. `-M prepared` matches docket's prepared statements.
 */
function script(batch: number): string {
  return `WITH next AS (
  SELECT id FROM docket.jobs
  WHERE state = 'available' AND queue = 'default'
  ORDER BY priority, scheduled_at, id
  LIMIT ${batch}
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE docket.jobs AS j
  SET state = 'executing', attempt = j.attempt + 1, attempted_at = now(), attempted_by = 'pgbench'
  FROM next WHERE j.id = next.id
  RETURNING j.id
)
SELECT coalesce(array_agg(id)::text, '{}') AS ids FROM claimed \\gset
UPDATE docket.jobs SET state = 'completed', completed_at = now()
WHERE id = ANY(:ids::bigint[]) AND state = 'executing';
`;
}

/** One pgbench floor trial: docket's schema and jobs, claimed and completed by pgbench. */
export async function runPgbench(params: {
  url: string;
  jobs: number;
  batch: number;
  clients: number;
}): Promise<PgbenchResult> {
  const binary = findPgbench();
  if (!binary) throw new Error("pgbench not found (set BENCH_PGBENCH to its path)");
  const { url, jobs, batch, clients } = params;
  const docket = await createSystem("docket", url);
  await docket.setup();
  await docket.insertBulk(0, jobs);
  await docket.stop();
  await checkpoint(url);

  const dir = await mkdtemp(join(tmpdir(), "docket-pgbench-"));
  const file = join(dir, "claim-complete.sql");
  await writeFile(file, script(batch));
  const perClient = Math.ceil(jobs / (batch * clients));
  const args = ["-n", "-M", "prepared", "-c", String(clients), "-j", String(clients)];
  args.push("-t", String(perClient), "-f", file, url);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
    });
    child.stderr.on("data", (chunk) => {
      text += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(text) : reject(new Error(`pgbench: ${text}`)),
    );
  });
  await rm(dir, { recursive: true, force: true });

  // pgbench's own clock, without connection set-up: transactions / tps = seconds.
  const processed = Number(/actually processed: (\d+)/.exec(output)?.[1]);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1]);
  const seconds = processed / tps;

  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ done: number; twice: number }[]>`
      SELECT count(*) FILTER (WHERE state = 'completed')::integer AS done,
             count(*) FILTER (WHERE attempt > 1)::integer AS twice
      FROM docket.jobs`;
    return {
      jobsPerSec: jobs / seconds,
      lost: jobs - (row?.done ?? 0),
      duplicates: row?.twice ?? 0,
      pgbench: `pgbench ${args.slice(0, -2).join(" ")} (${batch} jobs a claim)`,
    };
  } finally {
    await sql.end();
  }
}
