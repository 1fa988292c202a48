import type { SystemName } from "../config.js";
import type { BenchSystem } from "./types.js";

/** Loads one system's adapter; peers are imported only when used. */
export async function createSystem(name: SystemName, url: string): Promise<BenchSystem> {
  switch (name) {
    case "docket":
      return await (await import("./docket.js")).createDocket(url);
    case "docket-partitioned":
      return await (await import("./docket.js")).createDocket(url, { partitioned: true });
    case "graphile-worker":
      return (await import("./graphile-worker.js")).createGraphileWorker(url);
    case "pg-boss":
      return (await import("./pg-boss.js")).createPgBoss(url);
  }
}
