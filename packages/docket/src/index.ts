export type {
  BulkOptions,
  JobFilter,
  JobId,
  JobPage,
  ListJobsOptions,
  RescheduleTo,
} from "./admin/admin.js";
export {
  type LeaderSummary,
  type ProducerSummary,
  type QueueSummary,
  readStatus,
  type StatusReport,
} from "./admin/read-status.js";
export type { WaitForJobOptions } from "./admin/wait-for-job.js";
export {
  type BuiltInTargetOptions,
  type JobArchiveOptions,
  jobArchiveTarget,
  jobsTarget,
  producersTarget,
} from "./cleanup/builtin-targets.js";
export {
  type CleanupOption,
  type CleanupSettings,
  withCleanupTargets,
} from "./cleanup/cleanup-options.js";
export type { CleanupTargetSummary, RunCleanupOptions } from "./cleanup/cleanup-registry.js";
export type { CleanupResult } from "./cleanup/cleanup-run.js";
export {
  type DatabaseMaintenanceOptions,
  databaseMaintenanceTarget,
} from "./cleanup/database-upkeep.js";
export {
  type CleanupContext,
  type CleanupStrategy,
  type CleanupTarget,
  type CleanupTargetOptions,
  type CustomCleanupResult,
  defineCleanupTarget,
  isCleanupTarget,
} from "./cleanup/define-target.js";
export { type LoadConfigOptions, type LoadedConfig, loadConfig } from "./config/load-config.js";
export type { QueueCheck, QueueControlOptions } from "./control/control-message.js";
export { Cron, type CronRunResult } from "./cron/cron.js";
export { CronSchedule } from "./cron/cron-expression.js";
export type { CronInsertion } from "./cron/cron-insertion.js";
export type { CronEntryOptions } from "./cron/cron-options.js";
export type { DashboardAction } from "./dashboard/dashboard-action.js";
export {
  type MigrationStatus,
  Migrator,
  type MigratorOptions,
  type PartitionReport,
} from "./db/migrator.js";
export type { JobsLayout } from "./db/partitioned-layout.js";
export type {
  DrizzleTransaction,
  KnexTransaction,
  PrismaTransaction,
  QueryTransaction,
  Transaction,
} from "./db/transaction-adapters.js";
export {
  ArgsError,
  CleanupLockedError,
  CleanupTargetNotFoundError,
  ConfigError,
  DatabaseTimeoutError,
  DocketError,
  InsertError,
  isRetryableDatabaseError,
  JobCancelledError,
  JobDiscardedError,
  JobNotFoundError,
  JobTimeoutError,
  MigrationError,
  NotMigratedError,
  PoolerError,
  ProgressError,
  QueueStateError,
  WaitTimeoutError,
} from "./errors.js";
export {
  type AttemptTiming,
  type JobProgress,
  QueueEventEmitter,
  type QueueEvents,
} from "./events.js";
export { describeLimits } from "./flow/describe-limits.js";
export type { FlowOptions, ParsedFlowOptions, PartitionBy } from "./flow/flow-options.js";
export {
  Batch,
  type BatchCallback,
  type BatchOptions,
  type BatchSummary,
  type InsertedBatch,
} from "./insert/batch.js";
export type { StepInsertOptions } from "./insert/graph-insert.js";
export type { InsertOptions } from "./insert/insert-options.js";
export type { ResolvedUniqueOptions, UniqueField } from "./insert/unique-options.js";
export {
  type StepOptions,
  Workflow,
  type WorkflowInsertOptions,
} from "./insert/workflow.js";
export type { Logger } from "./logger.js";
export { LeaderLoop, type LeaderLoopOptions } from "./maintenance/leader-loop.js";
export { Lifeline } from "./maintenance/lifeline.js";
export type {
  HeartbeatOptions,
  LeadershipOptions,
  LifelineOptions,
  PrunerOptions,
} from "./maintenance/maintenance-options.js";
export type {
  PruneResult,
  RescuedJob,
  RescueResult,
  RollupResult,
} from "./maintenance/maintenance-results.js";
export type { MaintenanceTarget, Plugin, PluginContext } from "./maintenance/plugin.js";
export { Pruner } from "./maintenance/pruner.js";
export { StatsRollup } from "./maintenance/stats-rollup.js";
export { diagnosticsChannelNames } from "./observability/diagnostics-channels.js";
export type { QueueHealth } from "./observability/health.js";
export type { JobStats, StatsOptions } from "./observability/job-stats.js";
export { Queue } from "./queue.js";
export type { QueueOptions } from "./queue-options.js";
export type { StopOptions } from "./runner/stop-options.js";
export type { ReplaceableField } from "./sql/unique-jobs.js";
export type { Job, JobError, JobState, JsonResult, JsonValue } from "./types.js";
export { jobStates } from "./types.js";
export { type ArgsSchema, isArgsSchema } from "./validation/args-schema.js";
export { type Duration, parseDuration } from "./validation/duration.js";
export { maxProgressBytes, type ProgressValue } from "./validation/progress.js";
export { defaultBackoff } from "./workers/backoff.js";
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
} from "./workers/define-worker.js";
