-- Signed webhooks accepted once (the ReplayGuard port): a key per accepted request, kept
-- until it expires. Writes sweep expired rows, hence the index on expires_at. Times are
-- TEXT as in 0001 (text order is time order).
CREATE TABLE replay_keys (
    replay_key TEXT NOT NULL PRIMARY KEY,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ix_replay_keys_expires_at ON replay_keys (expires_at);
