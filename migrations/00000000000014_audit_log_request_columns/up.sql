-- D-15: the columns the audit writer needs.
ALTER TABLE audit_logs
    ADD COLUMN request_method varchar(16),
    ADD COLUMN request_path text,
    ADD COLUMN context jsonb;
