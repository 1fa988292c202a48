// The packages as npm users get them: both are packed as for publishing (pnpm turns
// `workspace:*` into a version), installed with plain `npm install` into a fresh project outside
// the workspace, and used there: the README's quick start compiles under strict TypeScript 5.9
// and 7 (nodenext), a job runs against the test database, and `npx docket` migrates it.
//
// Packing uses the build `pnpm test` made (scripts are skipped, so the suite's other files keep
// their dist/); `prepack` runs the same build when packing by hand. npm's cache lives in .tmp/,
// so only the first run downloads.

import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "../support/database.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const db = useTestDatabase();

interface Packed {
  file: string;
  bytes: number;
  entries: string[];
}

/** Runs a command, giving its output; a failure shows what it printed. */
async function sh(command: string, args: string[], options: { cwd: string; env?: object }) {
  try {
    return await run(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout ?? ""}\n${stderr ?? ""}`, {
      cause: error,
    });
  }
}

async function pack(pkg: string, into: string, extra: string[]): Promise<Packed> {
  const cwd = join(root, "packages", pkg);
  if (!existsSync(join(cwd, "dist")))
    throw new Error(`packages/${pkg}/dist is missing: run pnpm run build`);
  await sh("node", [join(root, "scripts/pack-files.mjs"), ...extra], { cwd });
  const before = new Set(readdirSync(into));
  await sh("npx", ["-y", "pnpm@10", "pack", "--pack-destination", into], {
    cwd,
    env: { npm_config_ignore_scripts: "true" },
  });
  const name = readdirSync(into).find((f) => f.endsWith(".tgz") && !before.has(f));
  if (!name) throw new Error(`pnpm pack made no tarball for ${pkg}`);
  const file = join(into, name);
  const { stdout } = await sh("tar", ["-tzf", file], { cwd: into });
  const bytes = readFileSync(file).length;
  return { file, bytes, entries: stdout.split("\n").filter(Boolean) };
}

/** The README's quick start, with the two things it leaves to the reader: a mailer and a db. */
function quickStart(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Quick start"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README.md has no ```ts block under ## Quick start");
  return `import postgres from "postgres";
declare const mailer: { send(to: string, options: { signal: AbortSignal }): Promise<void> };
const db = postgres(process.env.DATABASE_URL ?? "");
${block}`;
}

/** A job run end to end with the installed package, and type checks a user relies on. */
const runJob = `import { defineWorker, type Job, Queue } from "docket";
import { z } from "zod";

const greet = defineWorker({
  name: "pack.greet",
  args: z.object({ name: z.string(), tags: z.array(z.string()).default([]) }),
  perform(job) {
    return job.args.tags.length > 0 ? { greeted: job.args.name } : { skipped: true, tags: 0 };
  },
});

const queue = new Queue({ connection: process.argv[2] ?? "", queues: { default: 2 }, workers: [greet] });
// @ts-expect-error no such event: it is "job:complete"
queue.on("job:completed", () => {});
const done = new Promise<unknown>((resolve) => queue.on("job:complete", ({ result }) => resolve(result)));
await queue.start();
const job: Job<{ name: string; tags: string[] }> = await queue.insert(greet, { name: "Ada", tags: ["x"] });
const result = await done;
await queue.stop();
console.log(JSON.stringify({ id: job.id, args: job.args, result }));
`;

describe("packed packages installed with npm", () => {
  let docket: Packed;
  let cli: Packed;
  let project: string;
  let install: { stdout: string; stderr: string };

  beforeAll(async () => {
    const work = mkdtempSync(join(tmpdir(), "docket-pack-"));
    const tarballs = join(work, "tarballs");
    mkdirSync(tarballs);
    docket = await pack("docket", tarballs, ["--readme"]);
    cli = await pack("cli", tarballs, []);
    console.log(
      `[pack] docket ${(docket.bytes / 1024).toFixed(1)} kB (${docket.entries.length} files), ` +
        `@docket/cli ${(cli.bytes / 1024).toFixed(1)} kB (${cli.entries.length} files)`,
    );
    project = join(work, "app");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }),
    );
    install = await sh(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        docket.file,
        cli.file,
        "typescript@5.9",
        "ts7@npm:typescript@^7",
        "@types/node@^20",
      ],
      { cwd: project, env: { npm_config_cache: join(root, ".tmp/npm-cache") } },
    );
    const compilerOptions = {
      strict: true,
      module: "nodenext",
      moduleResolution: "nodenext",
      target: "es2022",
      types: ["node"],
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
      outDir: "out",
    };
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions }));
    writeFileSync(
      join(project, "tsconfig.run.json"),
      JSON.stringify({ extends: "./tsconfig.json", files: ["run-job.ts"] }),
    );
    writeFileSync(join(project, "quick-start.ts"), quickStart());
    writeFileSync(join(project, "run-job.ts"), runJob);
  }, 240_000);

  test("each tarball carries dist, types, migrations, README and LICENSE, and no tests", () => {
    const migrations = readdirSync(join(root, "migrations")).filter((f) => f.endsWith(".sql"));
    expect(migrations.length).toBeGreaterThan(0);
    for (const file of [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/testing/index.d.ts",
      "README.md",
      "LICENSE",
      ...migrations.map((m) => `migrations/${m}`),
      // The partitioned layout (docs/scaling.md), read at migrate time.
      "migrations/partitioned/set-aside.sql",
      "migrations/partitioned/layout.sql",
    ]) {
      expect(docket.entries).toContain(`package/${file}`);
    }
    for (const file of ["dist/bin.js", "README.md", "LICENSE"]) {
      expect(cli.entries).toContain(`package/${file}`);
    }
    for (const { entries } of [docket, cli]) {
      expect(entries.filter((e) => /\.test\.|\/fixtures\//.test(e))).toEqual([]);
    }
  });

  test("every source map points at a file in its tarball", async () => {
    for (const packed of [docket, cli]) {
      const dir = mkdtempSync(join(tmpdir(), "docket-unpacked-"));
      await sh("tar", ["-xzf", packed.file, "-C", dir], { cwd: root });
      const maps = packed.entries.filter((e) => e.endsWith(".map"));
      expect(maps.length).toBeGreaterThan(0);
      const missing = maps.flatMap((entry) => {
        const map = JSON.parse(readFileSync(join(dir, entry), "utf8")) as { sources: string[] };
        const folder = entry.split("/").slice(0, -1);
        return map.sources
          .map((source) => normalize([...folder, ...source.split("/")]))
          .filter((path) => !packed.entries.includes(path));
      });
      expect(missing).toEqual([]);
    }
  });

  test("npm installs them without a warning about engines, and the CLI names a version of docket", () => {
    expect(install.stderr).not.toMatch(/EBADENGINE|ERESOLVE/);
    const cliJson = JSON.parse(
      readFileSync(join(project, "node_modules/@docket/cli/package.json"), "utf8"),
    ) as { dependencies: Record<string, string> };
    expect(cliJson.dependencies.docket).toMatch(/^\d+\.\d+\.\d+/);
  });

  test.each([
    ["TypeScript 5.9", "typescript"],
    ["TypeScript 7", "ts7"],
  ])(
    "the quick start compiles under strict %s with nodenext resolution",
    async (_, compiler) => {
      const tsc = join(project, "node_modules", compiler, "bin/tsc");
      const { stdout } = await sh("node", [tsc, "--version"], { cwd: project });
      expect(stdout).toMatch(compiler === "ts7" ? /^Version 7\./ : /^Version 5\.9\./);
      // TypeScript 7 also checks every installed declaration file (docket's, and what they import);
      // 5.9 does so five times slower, so it checks the app's code the way `tsc --init` sets up.
      const libCheck = compiler === "ts7" ? [] : ["--skipLibCheck"];
      await sh("node", [tsc, "-p", ".", "--noEmit", ...libCheck], { cwd: project });
    },
    120_000,
  );

  test("npx docket migrates the database and a job runs against it", async () => {
    await db.sql`DROP SCHEMA docket CASCADE`;
    const help = await sh("npx", ["docket", "--help"], { cwd: project });
    expect(help.stdout).toMatch(/Usage: docket/);
    expect(help.stdout).toMatch(/migrate/);
    const migrate = await sh("npx", ["docket", "migrate"], {
      cwd: project,
      env: { DATABASE_URL: db.url },
    });
    expect(migrate.stdout + migrate.stderr).toMatch(/0001_jobs/);
    const tsc = join(project, "node_modules/ts7/bin/tsc");
    await sh("node", [tsc, "-p", "tsconfig.run.json"], { cwd: project });
    const ran = await sh("node", ["out/run-job.js", db.url], { cwd: project });
    expect(JSON.parse(ran.stdout)).toMatchObject({
      args: { name: "Ada", tags: ["x"] },
      result: { greeted: "Ada" },
    });
    const [row] = await db.sql<{ state: string }[]>`SELECT state FROM docket.jobs`;
    expect(row?.state).toBe("completed");
  }, 180_000);
});

/** Resolves `.` and `..` in a path given as segments. */
function normalize(segments: string[]): string {
  const out: string[] = [];
  for (const segment of segments) {
    if (segment === "..") out.pop();
    else if (segment !== "." && segment !== "") out.push(segment);
  }
  return out.join("/");
}
