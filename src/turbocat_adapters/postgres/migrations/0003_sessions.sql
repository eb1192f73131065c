-- Login sessions and one-time tokens (the SessionStore and OneTimeTokens ports), shared
-- by every server process on the database.

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    refresh_hash text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    last_used_at timestamptz,
    ip_address text,
    user_agent text,
    revoked_at timestamptz,
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Keyed by the token's hash (the token itself is never stored); expired rows are swept
-- by later puts, hence the index on expires_at.
CREATE TABLE one_time_tokens (
    token_hash text PRIMARY KEY,
    subject text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX one_time_tokens_expires_at_idx ON one_time_tokens (expires_at);
