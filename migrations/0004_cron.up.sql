-- Cron bookkeeping: which slot of each entry has been inserted, so that each entry inserts
-- exactly one job per slot whichever node leads, also across a change of leader.
-- Runs with search_path set to the target schema, so names are unqualified here.

-- One row per cron entry the leader has seen. `created_at` keeps a new entry from running for a
-- slot that came due before it existed; `last_slot` (only ever moved forward) is the latest slot
-- inserted. Claiming a slot updates this row first, so two nodes claiming at once queue up on its
-- lock and the second sees the slot taken.
CREATE TABLE cron_entries (
  name text PRIMARY KEY,
  expression text NOT NULL,
  timezone text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_slot timestamptz,
  CONSTRAINT cron_entries_name_length CHECK (char_length(name) BETWEEN 1 AND 255)
);

-- One row per slot inserted: the unique key (entry, slot) is what makes a slot run once. Rows
-- are kept for a week (the leader deletes older ones); `job_id` points at the job inserted, which
-- the pruner may delete in its time, so it is no foreign key.
CREATE TABLE cron_slots (
  entry text NOT NULL,
  slot timestamptz NOT NULL,
  job_id bigint,
  inserted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entry, slot)
);

-- The leader deletes old slots by age.
CREATE INDEX cron_slots_slot_idx ON cron_slots (slot);
