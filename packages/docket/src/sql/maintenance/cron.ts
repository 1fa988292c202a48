import { sql } from "kysely";

/**
 * Every statement on `cron_entries` and `cron_slots`: the leader registers its entries, reads
 * where each one stands, and claims slots. A slot is claimed once: the claim moves the entry's
 * `last_slot` forward (only forward) and adds the `(entry, slot)` row, whose primary key
 * refuses a second claim whoever makes it.
 */

/** An entry as the leader registers it. */
export interface CronEntryRow {
  name: string;
  expression: string;
  timezone: string;
}

/** Where an entry stands, read with the database's clock. */
export interface CronStateRow {
  name: string;
  created_at: Date;
  last_slot: Date | null;
  now: Date;
}

/**
 * Adds the entries not seen before (their `created_at` is now) and refreshes the expression and
 * time zone of the others, keeping their `last_slot`.
 */
export function registerCronEntries(schema: string, entries: CronEntryRow[]) {
  return sql<{ name: string }>`
    INSERT INTO ${sql.id(schema, "cron_entries")} AS e (name, expression, timezone)
    SELECT x.name, x.expression, x.timezone
    FROM jsonb_to_recordset(${entries}::jsonb) AS x(name text, expression text, timezone text)
    ON CONFLICT (name) DO UPDATE SET
      expression = excluded.expression,
      timezone = excluded.timezone,
      updated_at = now()
    WHERE e.expression IS DISTINCT FROM excluded.expression
       OR e.timezone IS DISTINCT FROM excluded.timezone
    RETURNING e.name`;
}

/** The state of the named entries and the database's time now. */
export function selectCronState(schema: string, names: string[]) {
  return sql<CronStateRow>`
    SELECT name, created_at, last_slot, now() AS now
    FROM ${sql.id(schema, "cron_entries")}
    WHERE name = ANY(${names}::text[])`;
}

/** The database's time now. */
export function selectNow() {
  return sql<{ now: Date }>`SELECT now() AS now`;
}

/**
 * Claims one slot of an entry; returns a row only if this call won it. Run it in the
 * transaction that inserts the job, so that a claim without its job never commits. The UPDATE
 * locks the entry's row: a second claimer waits, then finds `last_slot` moved and claims nothing.
 */
export function claimCronSlot(schema: string, entry: string, slot: Date) {
  return sql<{ entry: string }>`
    WITH moved AS (
      UPDATE ${sql.id(schema, "cron_entries")}
      SET last_slot = ${slot}::timestamptz
      WHERE name = ${entry} AND (last_slot IS NULL OR last_slot < ${slot}::timestamptz)
      RETURNING name
    )
    INSERT INTO ${sql.id(schema, "cron_slots")} (entry, slot)
    SELECT name, ${slot}::timestamptz FROM moved
    ON CONFLICT (entry, slot) DO NOTHING
    RETURNING entry`;
}

/** Records which job a claimed slot inserted. */
export function setCronSlotJob(schema: string, entry: string, slot: Date, jobId: string) {
  return sql`
    UPDATE ${sql.id(schema, "cron_slots")} SET job_id = ${jobId}::bigint
    WHERE entry = ${entry} AND slot = ${slot}::timestamptz`;
}

/** Deletes slots older than `keepMs`; the entries' `last_slot` keeps the latest of each. */
export function deleteOldCronSlots(schema: string, keepMs: number) {
  return sql<{ deleted: number }>`
    WITH deleted AS (
      DELETE FROM ${sql.id(schema, "cron_slots")}
      WHERE slot < now() - ${keepMs}::double precision * interval '1 millisecond'
      RETURNING 1
    )
    SELECT count(*)::integer AS deleted FROM deleted`;
}
