-- Free-text task search (`q`, contract 7.3) is a case-insensitive substring match on the
-- title or the description, `ILIKE '%q%'`, which no B-tree can serve: without these indexes
-- the admin view scans every live task (about 0.5 s at a million rows). Trigram GIN indexes
-- answer it in milliseconds for any `q` of three characters or more, at the cost of about
-- 8 % on task inserts (measured with pgbench on this machine; GIN's pending list absorbs
-- most of it). pg_trgm ships with PostgreSQL and is a trusted extension, so the database
-- owner may create it.
--
-- The indexes are built without CONCURRENTLY, like the other listing indexes: the build
-- blocks task writes for its duration (about 18 s per million tasks on two cores).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX idx_tasks_live_title_trgm ON tasks USING gin (title gin_trgm_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_live_description_trgm ON tasks USING gin (description gin_trgm_ops)
    WHERE deleted_at IS NULL;
