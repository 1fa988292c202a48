export type {
  BulkOptions,
  JobFilter,
  JobId,
  JobPage,
  ListJobsOptions,
  RescheduleTo,
} from "./admin.js";
export { defaultBackoff } from "./backoff.js";
export {
  type BuiltInTargetOptions,
  type JobArchiveOptions,
  jobArchiveTarget,
  jobsTarget,
  producersTarget,
} from "./builtin-targets.js";
export { type CleanupOption, type CleanupSettings, withCleanupTargets } from "./cleanup-options.js";
export type { CleanupTargetSummary, RunCleanupOptions } from "./cleanup-registry.js";
export type { CleanupResult } from "./cleanup-run.js";
export {
  type CleanupContext,
  type CleanupStrategy,
  type CleanupTarget,
  type CleanupTargetOptions,
  type CustomCleanupResult,
  defineCleanupTarget,
  isCleanupTarget,
} from "./cleanup-target.js";
export { type LoadConfigOptions, type LoadedConfig, loadConfig } from "./config/load-config.js";
export type { QueueCheck, QueueControlOptions } from "./control.js";
export { Cron, type CronInsertion, type CronRunResult } from "./cron.js";
export { CronSchedule } from "./cron-expression.js";
export type { CronEntryOptions } from "./cron-options.js";
export {
  type DatabaseMaintenanceOptions,
  databaseMaintenanceTarget,
} from "./database-maintenance.js";
export { type Duration, parseDuration } from "./duration.js";
export {
  ArgsError,
  CleanupLockedError,
  CleanupTargetNotFoundError,
  ConfigError,
  DocketError,
  InsertError,
  isRetryableDatabaseError,
  JobCancelledError,
  JobNotFoundError,
  JobTimeoutError,
  MigrationError,
  QueueStateError,
} from "./errors.js";
export type { AttemptTiming, QueueEvents } from "./events.js";
export type { InsertOptions } from "./insert.js";
export { Lifeline, type RescuedJob, type RescueResult } from "./lifeline.js";
export type { Logger } from "./logger.js";
export type {
  HeartbeatOptions,
  LeadershipOptions,
  LifelineOptions,
  PrunerOptions,
} from "./maintenance-options.js";
export { type MigrationStatus, Migrator } from "./migrator.js";
export type { QueueOptions } from "./options.js";
export {
  LeaderLoop,
  type LeaderLoopOptions,
  type MaintenanceTarget,
  type Plugin,
  type PluginContext,
} from "./plugin.js";
export { type PruneResult, Pruner } from "./pruner.js";
export { Queue, type StopOptions } from "./queue.js";
export {
  type LeaderSummary,
  type ProducerSummary,
  type QueueSummary,
  readStatus,
  type StatusReport,
} from "./read-status.js";
export type { Job, JobError, JobState, JsonValue } from "./types.js";
export { jobStates } from "./types.js";
export type { ReplaceableField, ResolvedUniqueOptions, UniqueField } from "./unique.js";
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
