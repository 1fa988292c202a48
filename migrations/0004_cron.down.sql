DROP TABLE IF EXISTS cron_slots;
DROP TABLE IF EXISTS cron_entries;
