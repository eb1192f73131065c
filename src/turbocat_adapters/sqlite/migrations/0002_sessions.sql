-- Login sessions and one-time tokens (the SessionStore and OneTimeTokens ports), so the
-- embedded server keeps logins across restarts and processes sharing the file share them.
-- Types as in 0001: ids and times TEXT (text order is id and time order).

CREATE TABLE sessions (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_used_at TEXT,
    ip_address TEXT,
    user_agent TEXT,
    revoked_at TEXT
);
CREATE INDEX ix_sessions_user_id ON sessions (user_id);

-- Keyed by the token's hash (the token itself is never stored); expired rows are swept
-- by later puts, hence the index on expires_at.
CREATE TABLE one_time_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    subject TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ix_one_time_tokens_expires_at ON one_time_tokens (expires_at);
