-- FUNCTION agents (a Python function registered in the process that runs the step, config
-- {"function": name}) are stored like every other agent type. SQLite cannot change a CHECK
-- constraint, so the agents table is rebuilt (https://www.sqlite.org/lang_altertable.html,
-- "otheralter"): the runner applies every migration with foreign keys off and runs
-- PRAGMA foreign_key_check before it commits, so the tables that refer to agents
-- (workflow_steps, deployments, agents.parent_id) keep their rows and their references.
CREATE TABLE agents_new (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    type TEXT NOT NULL
        CONSTRAINT ck_agents_type
        CHECK (type IN ('CODE', 'API', 'LLM', 'DATA', 'WORKFLOW', 'FUNCTION')),
    description TEXT,
    status TEXT NOT NULL
        CONSTRAINT ck_agents_status CHECK (status IN ('DRAFT', 'ACTIVE', 'INACTIVE', 'ARCHIVED')),
    config TEXT NOT NULL CONSTRAINT ck_agents_config CHECK (json_valid(config)),
    capabilities TEXT NOT NULL CONSTRAINT ck_agents_capabilities CHECK (json_valid(capabilities)),
    parameters TEXT NOT NULL CONSTRAINT ck_agents_parameters CHECK (json_valid(parameters)),
    max_execution_time INTEGER NOT NULL,
    max_memory_mb INTEGER NOT NULL,
    max_concurrent_executions INTEGER NOT NULL,
    tags TEXT NOT NULL CONSTRAINT ck_agents_tags CHECK (json_valid(tags)),
    is_public INTEGER NOT NULL CONSTRAINT ck_agents_is_public CHECK (is_public IN (0, 1)),
    version INTEGER NOT NULL,
    parent_id TEXT REFERENCES agents (id),
    total_executions INTEGER NOT NULL
        CONSTRAINT ck_agents_total_executions CHECK (total_executions >= 0),
    successful_executions INTEGER NOT NULL
        CONSTRAINT ck_agents_successful_executions CHECK (successful_executions >= 0),
    failed_executions INTEGER NOT NULL
        CONSTRAINT ck_agents_failed_executions CHECK (failed_executions >= 0),
    avg_execution_time_ms REAL NOT NULL
        CONSTRAINT ck_agents_avg_execution_time_ms CHECK (avg_execution_time_ms >= 0),
    deleted_at TEXT
);

INSERT INTO agents_new (
    id, created_at, updated_at, user_id, name, type,
    description, status, config, capabilities, parameters, max_execution_time,
    max_memory_mb, max_concurrent_executions, tags, is_public, version, parent_id,
    total_executions, successful_executions, failed_executions, avg_execution_time_ms, deleted_at
)
SELECT
    id, created_at, updated_at, user_id, name, type,
    description, status, config, capabilities, parameters, max_execution_time,
    max_memory_mb, max_concurrent_executions, tags, is_public, version, parent_id,
    total_executions, successful_executions, failed_executions, avg_execution_time_ms, deleted_at
FROM agents;

DROP TABLE agents;
ALTER TABLE agents_new RENAME TO agents;

CREATE INDEX ix_agents_user_id ON agents (user_id);
CREATE INDEX ix_agents_type ON agents (type);
CREATE INDEX ix_agents_status ON agents (status);
CREATE INDEX ix_agents_is_public ON agents (is_public);
CREATE INDEX ix_agents_created_at ON agents (created_at);
CREATE INDEX ix_agents_parent_id ON agents (parent_id);
