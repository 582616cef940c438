-- The schema before the first migration: empty. A database that existed before migrations did would
-- hold its schema here (pg_dump --schema-only), and be marked with `sluice migrate baseline 0`.
-- Never edit a committed script: fix a mistake with a new one (see the README, Database migrations).
SELECT 1;
