-- The whole schema of docs/storage.md for SQLite.
--
-- ids: TEXT, canonical lower-case UUIDs; times: TEXT, ISO 8601 UTC with microseconds
-- (2026-01-01T00:00:00.000000+00:00), so text order is time order; objects and lists:
-- TEXT holding JSON, checked with json_valid; booleans: INTEGER 0/1; enums: TEXT with a
-- CHECK listing the values. CHECK constraints are named ck_<table>_<column> so the store
-- can name the field a refused value belongs to. `schema_migrations` is created by the
-- runner (it has to exist before this file is applied).
--
-- Tags have no index here: no SQLite index serves json_each membership (PostgreSQL keeps
-- them in a GIN index).

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    full_name TEXT,
    avatar_url TEXT,
    role TEXT NOT NULL CONSTRAINT ck_users_role CHECK (role IN ('ADMIN', 'USER', 'AGENT')),
    is_active INTEGER NOT NULL CONSTRAINT ck_users_is_active CHECK (is_active IN (0, 1)),
    email_verified INTEGER NOT NULL
        CONSTRAINT ck_users_email_verified CHECK (email_verified IN (0, 1)),
    preferences TEXT NOT NULL CONSTRAINT ck_users_preferences CHECK (json_valid(preferences)),
    last_login_at TEXT,
    deleted_at TEXT
);
-- Emails are stored normalised (trimmed, lower-cased), so a plain unique index is
-- case-insensitive; soft-deleted users keep theirs.
CREATE UNIQUE INDEX ux_users_email ON users (email);
CREATE INDEX ix_users_role ON users (role);
CREATE INDEX ix_users_created_at ON users (created_at);

CREATE TABLE agents (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    type TEXT NOT NULL
        CONSTRAINT ck_agents_type CHECK (type IN ('CODE', 'API', 'LLM', 'DATA', 'WORKFLOW')),
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
CREATE INDEX ix_agents_user_id ON agents (user_id);
CREATE INDEX ix_agents_type ON agents (type);
CREATE INDEX ix_agents_status ON agents (status);
CREATE INDEX ix_agents_is_public ON agents (is_public);
CREATE INDEX ix_agents_created_at ON agents (created_at);
CREATE INDEX ix_agents_parent_id ON agents (parent_id);

CREATE TABLE workflows (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL CONSTRAINT ck_workflows_status
        CHECK (status IN ('DRAFT', 'ACTIVE', 'INACTIVE', 'ARCHIVED')),
    definition TEXT NOT NULL CONSTRAINT ck_workflows_definition CHECK (json_valid(definition)),
    trigger_config TEXT NOT NULL
        CONSTRAINT ck_workflows_trigger_config CHECK (json_valid(trigger_config)),
    schedule_enabled INTEGER NOT NULL
        CONSTRAINT ck_workflows_schedule_enabled CHECK (schedule_enabled IN (0, 1)),
    schedule_cron TEXT,
    schedule_timezone TEXT NOT NULL,
    timeout_seconds REAL NOT NULL,
    max_concurrency INTEGER NOT NULL,
    concurrency_limit INTEGER,
    version INTEGER NOT NULL,
    parent_id TEXT REFERENCES workflows (id),
    tags TEXT NOT NULL CONSTRAINT ck_workflows_tags CHECK (json_valid(tags)),
    is_public INTEGER NOT NULL CONSTRAINT ck_workflows_is_public CHECK (is_public IN (0, 1)),
    total_executions INTEGER NOT NULL
        CONSTRAINT ck_workflows_total_executions CHECK (total_executions >= 0),
    successful_executions INTEGER NOT NULL
        CONSTRAINT ck_workflows_successful_executions CHECK (successful_executions >= 0),
    failed_executions INTEGER NOT NULL
        CONSTRAINT ck_workflows_failed_executions CHECK (failed_executions >= 0),
    avg_execution_time_ms REAL NOT NULL
        CONSTRAINT ck_workflows_avg_execution_time_ms CHECK (avg_execution_time_ms >= 0),
    last_execution_at TEXT,
    deleted_at TEXT
);
CREATE INDEX ix_workflows_user_id ON workflows (user_id);
CREATE INDEX ix_workflows_status ON workflows (status);
CREATE INDEX ix_workflows_is_public ON workflows (is_public);
CREATE INDEX ix_workflows_created_at ON workflows (created_at);
CREATE INDEX ix_workflows_schedule_enabled ON workflows (schedule_enabled);
CREATE INDEX ix_workflows_parent_id ON workflows (parent_id);

CREATE TABLE workflow_steps (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    step_key TEXT NOT NULL,
    step_name TEXT NOT NULL,
    step_type TEXT NOT NULL CONSTRAINT ck_workflow_steps_step_type
        CHECK (step_type IN ('AGENT', 'CONDITION', 'LOOP', 'PARALLEL', 'WAIT')),
    agent_id TEXT REFERENCES agents (id),
    position INTEGER NOT NULL,
    config TEXT NOT NULL CONSTRAINT ck_workflow_steps_config CHECK (json_valid(config)),
    inputs TEXT NOT NULL CONSTRAINT ck_workflow_steps_inputs CHECK (json_valid(inputs)),
    depends_on TEXT NOT NULL CONSTRAINT ck_workflow_steps_depends_on CHECK (json_valid(depends_on)),
    retry_count INTEGER NOT NULL
        CONSTRAINT ck_workflow_steps_retry_count CHECK (retry_count BETWEEN 0 AND 10),
    retry_delay_ms INTEGER NOT NULL
        CONSTRAINT ck_workflow_steps_retry_delay_ms CHECK (retry_delay_ms >= 0),
    timeout_seconds REAL,
    on_error TEXT NOT NULL
        CONSTRAINT ck_workflow_steps_on_error CHECK (on_error IN ('FAIL', 'CONTINUE', 'RETRY'))
);
CREATE UNIQUE INDEX ux_workflow_steps_workflow_id_step_key ON workflow_steps (workflow_id, step_key);
CREATE INDEX ix_workflow_steps_agent_id ON workflow_steps (agent_id);
CREATE INDEX ix_workflow_steps_workflow_id_position ON workflow_steps (workflow_id, position);

CREATE TABLE deployments (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    workflow_id TEXT REFERENCES workflows (id),
    agent_id TEXT REFERENCES agents (id),
    description TEXT,
    environment TEXT NOT NULL CONSTRAINT ck_deployments_environment
        CHECK (environment IN ('DEVELOPMENT', 'STAGING', 'PRODUCTION')),
    status TEXT NOT NULL CONSTRAINT ck_deployments_status CHECK (
        status IN ('STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'FAILED', 'MAINTENANCE')
    ),
    config TEXT NOT NULL CONSTRAINT ck_deployments_config CHECK (json_valid(config)),
    environment_variables TEXT NOT NULL
        CONSTRAINT ck_deployments_environment_variables CHECK (json_valid(environment_variables)),
    health_status TEXT NOT NULL CONSTRAINT ck_deployments_health_status
        CHECK (health_status IN ('UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DEGRADED')),
    last_health_check_at TEXT,
    allocated_memory_mb INTEGER,
    allocated_cpu REAL,
    started_at TEXT,
    stopped_at TEXT,
    deleted_at TEXT,
    -- exactly one target: a workflow or an agent
    CONSTRAINT ck_deployments_workflow_id CHECK ((workflow_id IS NULL) <> (agent_id IS NULL))
);
CREATE INDEX ix_deployments_user_id ON deployments (user_id);
CREATE INDEX ix_deployments_workflow_id ON deployments (workflow_id);
CREATE INDEX ix_deployments_agent_id ON deployments (agent_id);
CREATE INDEX ix_deployments_status ON deployments (status);
CREATE INDEX ix_deployments_environment ON deployments (environment);

CREATE TABLE executions (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    workflow_id TEXT NOT NULL REFERENCES workflows (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CONSTRAINT ck_executions_status CHECK (
        status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT')
    ),
    trigger_type TEXT NOT NULL CONSTRAINT ck_executions_trigger_type
        CHECK (trigger_type IN ('MANUAL', 'SCHEDULED', 'API', 'WEBHOOK', 'EVENT')),
    trigger_data TEXT NOT NULL CONSTRAINT ck_executions_trigger_data CHECK (json_valid(trigger_data)),
    input_data TEXT NOT NULL CONSTRAINT ck_executions_input_data CHECK (json_valid(input_data)),
    metadata TEXT NOT NULL CONSTRAINT ck_executions_metadata CHECK (json_valid(metadata)),
    output_data TEXT CONSTRAINT ck_executions_output_data
        CHECK (output_data IS NULL OR json_valid(output_data)),
    error_message TEXT,
    started_at TEXT,
    completed_at TEXT,
    duration_ms REAL,
    steps_total INTEGER NOT NULL CONSTRAINT ck_executions_steps_total CHECK (steps_total >= 0),
    steps_completed INTEGER NOT NULL
        CONSTRAINT ck_executions_steps_completed CHECK (steps_completed >= 0),
    steps_failed INTEGER NOT NULL CONSTRAINT ck_executions_steps_failed CHECK (steps_failed >= 0),
    workflow_version INTEGER NOT NULL,
    -- the steps pinned when the execution was created (written by add only)
    steps TEXT NOT NULL CONSTRAINT ck_executions_steps CHECK (json_valid(steps)),
    timeout_seconds REAL NOT NULL,
    max_concurrency INTEGER NOT NULL,
    retry_of TEXT REFERENCES executions (id) ON DELETE SET NULL,
    parent_execution_id TEXT REFERENCES executions (id) ON DELETE SET NULL,
    depth INTEGER NOT NULL CONSTRAINT ck_executions_depth CHECK (depth >= 0),
    deployment_id TEXT REFERENCES deployments (id) ON DELETE SET NULL,
    -- the last log seq given out (logs.append takes numbers from here under the write lock)
    log_seq INTEGER NOT NULL DEFAULT 0 CONSTRAINT ck_executions_log_seq CHECK (log_seq >= 0)
);
CREATE INDEX ix_executions_workflow_id_created_at ON executions (workflow_id, created_at);
CREATE INDEX ix_executions_user_id ON executions (user_id);
CREATE INDEX ix_executions_status ON executions (status);
CREATE INDEX ix_executions_created_at ON executions (created_at);
CREATE INDEX ix_executions_completed_at ON executions (completed_at);
CREATE INDEX ix_executions_retry_of ON executions (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX ix_executions_parent_execution_id ON executions (parent_execution_id)
    WHERE parent_execution_id IS NOT NULL;
CREATE INDEX ix_executions_deployment_id ON executions (deployment_id)
    WHERE deployment_id IS NOT NULL;

CREATE TABLE step_runs (
    -- first-saved order (a rowid alias, so VACUUM keeps it)
    run_no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    step_key TEXT NOT NULL,
    -- no foreign key: the step may since have been deleted from the workflow
    step_id TEXT,
    status TEXT NOT NULL CONSTRAINT ck_step_runs_status
        CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')),
    attempt INTEGER NOT NULL CONSTRAINT ck_step_runs_attempt CHECK (attempt >= 0),
    output TEXT NOT NULL CONSTRAINT ck_step_runs_output CHECK (json_valid(output)),
    error TEXT,
    started_at TEXT,
    completed_at TEXT,
    duration_ms REAL,
    reused_from TEXT REFERENCES executions (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX ux_step_runs_execution_id_step_key ON step_runs (execution_id, step_key);
CREATE INDEX ix_step_runs_reused_from ON step_runs (reused_from) WHERE reused_from IS NOT NULL;

CREATE TABLE execution_logs (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CONSTRAINT ck_execution_logs_seq CHECK (seq >= 1),
    level TEXT NOT NULL CONSTRAINT ck_execution_logs_level
        CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL')),
    message TEXT NOT NULL,
    -- no foreign key: lines outlive edits of the workflow's steps
    workflow_step_id TEXT,
    step_key TEXT,
    metadata TEXT NOT NULL CONSTRAINT ck_execution_logs_metadata CHECK (json_valid(metadata)),
    step_status TEXT CONSTRAINT ck_execution_logs_step_status
        CHECK (step_status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')),
    step_started_at TEXT,
    step_completed_at TEXT,
    step_duration_ms REAL,
    attempt INTEGER CONSTRAINT ck_execution_logs_attempt CHECK (attempt >= 0)
);
CREATE UNIQUE INDEX ux_execution_logs_execution_id_seq ON execution_logs (execution_id, seq);
CREATE INDEX ix_execution_logs_created_at ON execution_logs (created_at);

CREATE TABLE templates (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    name TEXT NOT NULL,
    type TEXT NOT NULL CONSTRAINT ck_templates_type CHECK (type IN ('AGENT', 'WORKFLOW', 'STEP')),
    category TEXT NOT NULL,
    description TEXT,
    template_data TEXT NOT NULL
        CONSTRAINT ck_templates_template_data CHECK (json_valid(template_data)),
    is_official INTEGER NOT NULL CONSTRAINT ck_templates_is_official CHECK (is_official IN (0, 1)),
    is_public INTEGER NOT NULL CONSTRAINT ck_templates_is_public CHECK (is_public IN (0, 1)),
    usage_count INTEGER NOT NULL CONSTRAINT ck_templates_usage_count CHECK (usage_count >= 0),
    rating_average REAL NOT NULL,
    rating_count INTEGER NOT NULL CONSTRAINT ck_templates_rating_count CHECK (rating_count >= 0),
    tags TEXT NOT NULL CONSTRAINT ck_templates_tags CHECK (json_valid(tags)),
    deleted_at TEXT
);
CREATE INDEX ix_templates_category ON templates (category);
CREATE INDEX ix_templates_type ON templates (type);
CREATE INDEX ix_templates_is_official ON templates (is_official);
CREATE INDEX ix_templates_is_public ON templates (is_public);
CREATE INDEX ix_templates_usage_count ON templates (usage_count);
CREATE INDEX ix_templates_user_id ON templates (user_id);

CREATE TABLE api_keys (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    scopes TEXT NOT NULL CONSTRAINT ck_api_keys_scopes CHECK (json_valid(scopes)),
    rate_limit_per_minute INTEGER NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    usage_count INTEGER NOT NULL CONSTRAINT ck_api_keys_usage_count CHECK (usage_count >= 0),
    is_active INTEGER NOT NULL CONSTRAINT ck_api_keys_is_active CHECK (is_active IN (0, 1)),
    deleted_at TEXT
);
CREATE UNIQUE INDEX ux_api_keys_key_hash ON api_keys (key_hash);
CREATE INDEX ix_api_keys_user_id ON api_keys (user_id);

CREATE TABLE audit_logs (
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    changes TEXT NOT NULL CONSTRAINT ck_audit_logs_changes CHECK (json_valid(changes)),
    metadata TEXT NOT NULL CONSTRAINT ck_audit_logs_metadata CHECK (json_valid(metadata)),
    ip_address TEXT,
    user_agent TEXT
);
CREATE INDEX ix_audit_logs_user_id ON audit_logs (user_id);
CREATE INDEX ix_audit_logs_resource_type_resource_id ON audit_logs (resource_type, resource_id);
CREATE INDEX ix_audit_logs_action ON audit_logs (action);
CREATE INDEX ix_audit_logs_created_at ON audit_logs (created_at);
