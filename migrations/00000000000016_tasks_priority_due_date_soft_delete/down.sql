DROP INDEX idx_tasks_live_created;
DROP INDEX idx_tasks_live_user_due_date;
DROP INDEX idx_tasks_live_user_status;
DROP INDEX idx_tasks_live_user_updated;
DROP INDEX idx_tasks_live_user_created;
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks DROP CONSTRAINT tasks_priority_check;
ALTER TABLE tasks
    DROP COLUMN deleted_at,
    DROP COLUMN due_date,
    DROP COLUMN priority;
