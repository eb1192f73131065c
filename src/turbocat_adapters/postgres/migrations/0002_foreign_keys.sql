-- Foreign keys from every user_id, workflow_id, agent_id, execution_id and parent_id
-- (docs/storage.md). Users, agents, workflows and templates are soft-deleted, so nothing
-- they are referenced by goes away; pruning deletes executions, and their step runs and
-- log lines with them.

ALTER TABLE agents
    ADD CONSTRAINT agents_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    ADD CONSTRAINT agents_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES agents (id);

ALTER TABLE workflows
    ADD CONSTRAINT workflows_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    ADD CONSTRAINT workflows_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES workflows (id);

ALTER TABLE workflow_steps
    ADD CONSTRAINT workflow_steps_workflow_id_fkey
        FOREIGN KEY (workflow_id) REFERENCES workflows (id) ON DELETE CASCADE,
    ADD CONSTRAINT workflow_steps_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id);

ALTER TABLE executions
    ADD CONSTRAINT executions_workflow_id_fkey
        FOREIGN KEY (workflow_id) REFERENCES workflows (id),
    ADD CONSTRAINT executions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);

ALTER TABLE step_runs
    ADD CONSTRAINT step_runs_execution_id_fkey
        FOREIGN KEY (execution_id) REFERENCES executions (id) ON DELETE CASCADE;

ALTER TABLE execution_logs
    ADD CONSTRAINT execution_logs_execution_id_fkey
        FOREIGN KEY (execution_id) REFERENCES executions (id) ON DELETE CASCADE;

ALTER TABLE templates
    ADD CONSTRAINT templates_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);

ALTER TABLE deployments
    ADD CONSTRAINT deployments_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    ADD CONSTRAINT deployments_workflow_id_fkey
        FOREIGN KEY (workflow_id) REFERENCES workflows (id),
    ADD CONSTRAINT deployments_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id);

ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);

ALTER TABLE audit_logs
    ADD CONSTRAINT audit_logs_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
