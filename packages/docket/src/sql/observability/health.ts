import { sql } from "kysely";

/** The cheapest round trip, for `queue.health()`. */
export function ping() {
  return sql<{ ok: number }>`SELECT 1 AS ok`;
}
