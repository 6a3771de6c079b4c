-- Section 6.7 / D-12: durable record of revoked access-token ids and per-user cut-offs,
-- so that a Redis outage does not resurrect revoked tokens.
CREATE TABLE revoked_access_tokens (
    jti uuid PRIMARY KEY,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE user_token_revocations (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    revoked_before timestamptz NOT NULL
);
