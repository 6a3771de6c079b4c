-- Section 12.4: a user's tasks are listed newest first.
CREATE INDEX idx_tasks_user_id_created_at ON tasks (user_id, created_at);
