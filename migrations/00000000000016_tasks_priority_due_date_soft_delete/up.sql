-- D-41: priority, due date and soft delete on tasks, and indexes for the listing filters.
ALTER TABLE tasks
    ADD COLUMN priority varchar(20) NOT NULL DEFAULT 'medium',
    ADD COLUMN due_date timestamptz,
    ADD COLUMN deleted_at timestamptz;

ALTER TABLE tasks
    ADD CONSTRAINT tasks_priority_check
    CHECK (priority IN ('low', 'medium', 'high', 'urgent'));

-- Legacy rows may carry free-text statuses (D-9): NOT VALID checks only new and updated rows.
ALTER TABLE tasks
    ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')) NOT VALID;

-- One user's live tasks, default order (created_at DESC, id ASC): an index scan that stops
-- after offset + limit rows, whatever the table size.
CREATE INDEX idx_tasks_live_user_created ON tasks (user_id, created_at DESC, id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_live_user_updated ON tasks (user_id, updated_at DESC, id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_live_user_status ON tasks (user_id, status)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_tasks_live_user_due_date ON tasks (user_id, due_date)
    WHERE deleted_at IS NULL;
-- The admin view (all users' live tasks, newest first).
CREATE INDEX idx_tasks_live_created ON tasks (created_at DESC, id)
    WHERE deleted_at IS NULL;
