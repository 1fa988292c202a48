export { defaultBackoff } from "./backoff.js";
export { type Duration, parseDuration } from "./duration.js";
export {
  ArgsError,
  ConfigError,
  DocketError,
  InsertError,
  isRetryableDatabaseError,
  JobNotFoundError,
  JobTimeoutError,
  MigrationError,
  QueueStateError,
} from "./errors.js";
export type { AttemptTiming, QueueEvents } from "./events.js";
export type { InsertOptions } from "./insert.js";
export type { Logger } from "./logger.js";
export { type MigrationStatus, Migrator } from "./migrator.js";
export type { QueueOptions } from "./options.js";
export { Queue, type StopOptions } from "./queue.js";
export type { Job, JobError, JobState, JsonValue } from "./types.js";
export { jobStates } from "./types.js";
export {
  Cancel,
  cancel,
  defineWorker,
  type PerformContext,
  type PerformResult,
  Snooze,
  snooze,
  type UniqueOptions,
  type Worker,
  type WorkerOptions,
} from "./worker.js";
