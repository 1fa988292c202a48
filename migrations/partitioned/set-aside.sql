-- First step of the partitioned layout (src/db/partitioned-layout.ts): the plain jobs table is
-- renamed jobs_legacy, with its triggers off and its indexes renamed, so that layout.sql can build
-- the partitioned jobs beside it. Runs with search_path set to the schema, under an ACCESS
-- EXCLUSIVE lock of jobs taken by the caller.

-- flow_claim returns SETOF jobs: its return type is bound to the plain table's row type.
DROP FUNCTION flow_claim(text, integer, text);
ALTER TABLE jobs RENAME TO jobs_legacy;
-- The rows that move out of jobs_legacy are not deleted jobs: its triggers must not count them.
ALTER TABLE jobs_legacy DISABLE TRIGGER USER;
DO $$
DECLARE
  v_index text;
BEGIN
  FOR v_index IN
    SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'jobs_legacy'::regclass
  LOOP
    EXECUTE format('ALTER INDEX %I RENAME TO %I', v_index, 'legacy_' || v_index);
  END LOOP;
END $$;
