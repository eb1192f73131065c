-- The secret a deployment's webhooks are signed with, encrypted (a column of its own rather
-- than an entry among the deployment's variables), and a deployment's executions newest
-- first (its health and its history).
ALTER TABLE deployments ADD COLUMN webhook_secret text;
CREATE INDEX executions_deployment_created_idx ON executions (deployment_id, created_at DESC)
    WHERE deployment_id IS NOT NULL;
