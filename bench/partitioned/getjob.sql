\set id random(1, 1000000)
SELECT * FROM docket.jobs WHERE id = :id;
