-- One fetch of 10 then one ack of those 10, as two transactions (docket's claim and ack shapes).
WITH next AS (
  SELECT id FROM docket.jobs WHERE state = 'available' AND queue = 'q'
  ORDER BY priority, scheduled_at, id LIMIT 10 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE docket.jobs AS j SET state = 'executing', attempt = j.attempt + 1, attempted_at = now(),
    attempted_by = 'n'
  WHERE j.id = ANY(ARRAY(SELECT id FROM next)) AND j.state = 'available' RETURNING j.id
) SELECT coalesce(array_agg(id), '{}')::text AS ids FROM claimed \gset
UPDATE docket.jobs AS j SET state = 'completed', completed_at = now()
WHERE j.id = ANY(:ids::bigint[]) AND j.state IN ('available','scheduled','executing','retryable') AND j.state::text = 'executing' AND j.attempted_by = 'n';
