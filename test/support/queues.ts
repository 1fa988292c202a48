import { afterEach } from "vitest";
import { Queue, type QueueOptions } from "../../packages/docket/src/index.js";
import type { TestDatabase } from "./database.js";
import { partitionedSuite } from "./partitioned-suite.js";

/**
 * Makes queues on a test database with settings that suit tests (small pools, fast staging)
 * and stops every one of them after each test.
 *
 * @example
 * ```ts
 * const db = useTestDatabase();
 * const makeQueue = queueFactory(db);
 * const queue = makeQueue({ queues: { default: 5 }, workers: [w] });
 * ```
 */
export function queueFactory(db: TestDatabase) {
  const made: Queue[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((q) => q.stop({ grace: 1 })));
  });
  return (
    options: Omit<QueueOptions, "connection"> & { connection?: QueueOptions["connection"] } = {},
  ) => {
    const queue = new Queue({
      connection: db.url,
      poolSize: 3,
      stageInterval: 0.05,
      pollInterval: 0.2,
      partitioned: partitionedSuite(),
      ...options,
    });
    made.push(queue);
    return queue;
  };
}
