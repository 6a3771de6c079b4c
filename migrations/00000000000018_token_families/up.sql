-- Refresh-token families: a rotated token points at its successor, and every token of one
-- login shares a family, so reuse of a rotated token can revoke the whole family.
ALTER TABLE tokens
    ADD COLUMN family_id uuid,
    ADD COLUMN replaced_by uuid;
CREATE INDEX idx_tokens_family_id ON tokens (family_id);
