/**
 * What the `dashboard:action` event carries: who did what to which jobs or queue, for audit
 * logs. Emitted once the action has run.
 */
export interface DashboardAction {
  /** `retry`, `cancel`, `delete` (jobs) or `pause`, `resume`, `scale` (a queue). */
  action: "retry" | "cancel" | "delete" | "pause" | "resume" | "scale";
  /** Who, as `authorize` named them (`user`); undefined when it did not. */
  user: string | undefined;
  /** The ids of the jobs the action changed. */
  jobs?: string[];
  /** For bulk actions on a filter: the filter, as the jobs page describes it. */
  filter?: string;
  queue?: string;
  /** For `scale`: the new limit. */
  limit?: number;
}
