SELECT docket.jobs_detach_day_partitions('completed', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '39 days') AS dropped;
