DROP FUNCTION IF EXISTS flow_claim(text, integer, text);
DROP FUNCTION IF EXISTS flow_configure(text, jsonb, boolean, boolean);
DROP TABLE IF EXISTS flow_rates;
DROP INDEX IF EXISTS jobs_flow_fetch_idx;
DROP INDEX IF EXISTS jobs_flow_executing_idx;
DROP FUNCTION IF EXISTS flow_partition_key(jsonb, text, jsonb);
ALTER TABLE jobs DROP COLUMN IF EXISTS partition_key;
ALTER TABLE queues
  DROP CONSTRAINT IF EXISTS queues_flow_object,
  DROP COLUMN IF EXISTS flow_cursor,
  DROP COLUMN IF EXISTS flow_changed_at,
  DROP COLUMN IF EXISTS flow_override,
  DROP COLUMN IF EXISTS flow;
