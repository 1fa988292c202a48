/**
 * Helpers for testing applications that use docket (see docs/testing.md), imported from
 * `docket/testing`:
 *
 * - {@link performJob} runs a worker on some args as the queue would, without the database;
 * - {@link drainQueue} runs the jobs a test inserted, in the test's process, and counts outcomes;
 * - {@link assertEnqueued} / {@link refuteEnqueued} check what a piece of code enqueued.
 *
 * Pair them with the `testing` option of `new Queue()`: `"manual"` (insert, run nothing until a
 * drain) or `"inline"` (perform every job at insert).
 *
 * @module
 */
export { assertEnqueued, type EnqueuedMatch, refuteEnqueued } from "./assertions.js";
export { type DrainOptions, type DrainResult, drainQueue } from "./drain-queue.js";
export { type PerformJobOptions, type PerformJobResult, performJob } from "./perform-job.js";
