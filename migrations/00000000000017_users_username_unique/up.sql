-- Section 12.4: usernames unique among non-deleted users, only when existing data allows it
-- (a database with duplicates keeps working; the service still checks uniqueness itself).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM users
        WHERE deleted_at IS NULL
        GROUP BY username
        HAVING count(*) > 1
    ) THEN
        CREATE UNIQUE INDEX idx_users_username_live ON users (username)
            WHERE deleted_at IS NULL;
    ELSE
        RAISE NOTICE 'duplicate usernames exist: idx_users_username_live not created';
    END IF;
END
$$;
