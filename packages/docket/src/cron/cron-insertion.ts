import type { Job } from "../types.js";

/** One job a cron run inserted. */
export interface CronInsertion {
  /** The entry's name. */
  entry: string;
  /** The slot the job is for. */
  slot: Date;
  job: Job;
  /** Slots of this entry that came due while no node led and were not inserted. */
  missed: number;
}
