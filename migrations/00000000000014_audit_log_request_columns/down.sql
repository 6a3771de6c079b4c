ALTER TABLE audit_logs
    DROP COLUMN context,
    DROP COLUMN request_path,
    DROP COLUMN request_method;
