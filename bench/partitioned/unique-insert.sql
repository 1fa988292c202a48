SET search_path = docket;
-- Side-table unique insert: the key is claimed first with an id drawn from the identity, then the job.
WITH input AS (
  SELECT '\x02'::bytea AS key, nextval(pg_get_serial_sequence('docket.jobs', 'id')) AS id
), won AS (
  INSERT INTO job_unique_keys (unique_key, job_id) SELECT key, id FROM input
  ON CONFLICT (unique_key) DO NOTHING RETURNING unique_key, job_id
)
INSERT INTO jobs (id, queue, worker, unique_key, unique_states)
OVERRIDING SYSTEM VALUE SELECT job_id, 'u', 'w', unique_key, B'11111000' FROM won RETURNING id;
