DROP INDEX IF EXISTS idx_tasks_live_description_trgm;
DROP INDEX IF EXISTS idx_tasks_live_title_trgm;
-- pg_trgm stays installed: other objects of the database may use it, and it changes nothing
-- by itself.
