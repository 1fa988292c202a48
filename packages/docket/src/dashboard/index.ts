export { createDashboard, type DashboardHandler } from "./create-dashboard.js";
export type { DashboardAction } from "./dashboard-action.js";
export type {
  DashboardAccess,
  DashboardAuthorization,
  DashboardOptions,
  DashboardRequest,
} from "./dashboard-options.js";
export { jobFilterFromParams } from "./job-filter.js";
