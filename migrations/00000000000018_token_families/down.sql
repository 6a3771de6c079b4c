DROP INDEX idx_tokens_family_id;
ALTER TABLE tokens
    DROP COLUMN replaced_by,
    DROP COLUMN family_id;
