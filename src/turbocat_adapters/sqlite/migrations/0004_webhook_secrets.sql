-- The secret a deployment's webhooks are signed with, encrypted (a column of its own rather
-- than an entry among the deployment's variables).
ALTER TABLE deployments ADD COLUMN webhook_secret TEXT;
