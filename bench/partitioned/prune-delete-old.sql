-- The pruner's statement (sql/prune-rescue.ts), batches of 10,000, until nothing older than 39 days is left.
DO $$ DECLARE n integer; total integer := 0; BEGIN
  LOOP
    WITH doomed AS (
      SELECT id FROM docket.jobs WHERE state = 'completed' AND completed_at < now() - interval '39 days'
      ORDER BY completed_at, id LIMIT 10000
    ), deleted AS (
      DELETE FROM docket.jobs AS j USING doomed WHERE j.id = doomed.id AND j.state = 'completed' RETURNING 1
    ) SELECT count(*) INTO n FROM deleted;
    total := total + n;
    COMMIT;
    EXIT WHEN n = 0;
  END LOOP;
  RAISE NOTICE 'deleted %', total;
END $$;
