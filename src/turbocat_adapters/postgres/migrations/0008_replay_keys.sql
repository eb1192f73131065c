-- Signed webhooks accepted once (the ReplayGuard port): a key per accepted request, kept
-- until it expires. Writes sweep expired rows, hence the index on expires_at.
CREATE TABLE replay_keys (
    replay_key text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX replay_keys_expires_at_idx ON replay_keys (expires_at);
