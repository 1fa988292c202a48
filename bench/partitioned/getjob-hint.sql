\set id random(1, 1000000)
SELECT * FROM docket.jobs WHERE id = :id AND state = 'completed' AND completed_at >= now() - interval '40 days';
