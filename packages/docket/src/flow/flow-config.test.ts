import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../config/load-config.js";
import { Queue } from "../queue.js";
import { describeLimits } from "./describe-limits.js";

function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "docket-flow-")), "docket.toml");
  writeFileSync(path, text);
  return path;
}

describe("flow limits in docket.toml", () => {
  test("snake_case keys map onto globalLimit, rateLimit and partition", async () => {
    const path = configFile(`
      database_url = "postgres://h/app"
      [queues.exports]
      limit = 5
      global_limit = 3
      rate_limit = { allowed = 100, period = "1m", partition = { by = { worker = true } } }
      partition = { limit = 1, by = { worker = true } }
    `);
    const { options } = await loadConfig(path, { env: {} });
    expect(options.queues).toEqual({
      exports: {
        limit: 5,
        globalLimit: 3,
        rateLimit: { allowed: 100, period: "1m", partition: { by: { worker: true } } },
        partition: { limit: 1, by: { worker: true } },
      },
    });
    const queue = new Queue(options);
    expect(queue.options.queues.exports).toMatchObject({
      globalLimit: 3,
      rateLimit: { allowed: 100, period: 60_000 },
    });
    await queue.stop();
  });

  test("a misspelt key names the file's spelling of the intended one", async () => {
    const path = configFile(`
      database_url = "postgres://h/app"
      [queues.exports]
      limit = 5
      global_limt = 3
    `);
    await expect(loadConfig(path, { env: {} })).rejects.toThrow(/did you mean "global_limit"/);
  });

  test("docket status describes limits in one line", () => {
    expect(describeLimits(null)).toBe("-");
    expect(
      describeLimits({
        globalLimit: 3,
        rateLimit: { allowed: 100, period: 60_000, partition: { by: { args: ["accountId"] } } },
        partition: { limit: 1, by: { worker: true, args: ["accountId"] } },
      }),
    ).toBe("global 3, rate 100/1m per args.accountId, 1 per worker+args.accountId");
  });
});
