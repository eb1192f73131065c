-- Retention deletes old executions in batches and first cuts the references other rows
-- hold to them: without these, each batch would scan executions and step_runs whole.
CREATE INDEX executions_retry_of_idx ON executions (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX executions_parent_execution_id_idx ON executions (parent_execution_id)
    WHERE parent_execution_id IS NOT NULL;
CREATE INDEX step_runs_reused_from_idx ON step_runs (reused_from) WHERE reused_from IS NOT NULL;
