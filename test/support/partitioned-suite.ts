/**
 * Whether this run is the suite's second pass on the partitioned layout (`.ci/run` sets
 * `DOCKET_TEST_PARTITIONED=1`): the template's jobs table is partitioned and the queues that
 * tests make are `partitioned: true` (docs/scaling.md).
 */
export function partitionedSuite(): boolean {
  return process.env.DOCKET_TEST_PARTITIONED === "1";
}
