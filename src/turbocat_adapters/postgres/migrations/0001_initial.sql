-- The tables of docs/storage.md: every aggregate's columns, checks, unique keys and indexes.
-- Enums are text with a CHECK listing the values.

CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,  -- stored normalised (trimmed, lower-cased)
    password_hash text NOT NULL,
    full_name text,
    avatar_url text,
    role text NOT NULL DEFAULT 'USER' CHECK (role IN ('ADMIN', 'USER', 'AGENT')),
    is_active boolean NOT NULL DEFAULT true,
    email_verified boolean NOT NULL DEFAULT false,
    preferences jsonb NOT NULL DEFAULT '{}',
    last_login_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX users_role_idx ON users (role);
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE agents (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    name text NOT NULL,
    type text NOT NULL CHECK (type IN ('CODE', 'API', 'LLM', 'DATA', 'WORKFLOW')),
    description text,
    status text NOT NULL DEFAULT 'DRAFT'
        CHECK (status IN ('DRAFT', 'ACTIVE', 'INACTIVE', 'ARCHIVED')),
    config jsonb NOT NULL DEFAULT '{}',
    capabilities text[] NOT NULL DEFAULT '{}',
    parameters jsonb NOT NULL DEFAULT '{}',
    max_execution_time integer NOT NULL DEFAULT 300,
    max_memory_mb integer NOT NULL DEFAULT 512,
    max_concurrent_executions integer NOT NULL DEFAULT 1,
    tags text[] NOT NULL DEFAULT '{}',
    is_public boolean NOT NULL DEFAULT false,
    version integer NOT NULL DEFAULT 1,
    parent_id uuid,
    total_executions bigint NOT NULL DEFAULT 0 CHECK (total_executions >= 0),
    successful_executions bigint NOT NULL DEFAULT 0 CHECK (successful_executions >= 0),
    failed_executions bigint NOT NULL DEFAULT 0 CHECK (failed_executions >= 0),
    avg_execution_time_ms double precision NOT NULL DEFAULT 0,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX agents_user_id_idx ON agents (user_id);
CREATE INDEX agents_type_idx ON agents (type);
CREATE INDEX agents_status_idx ON agents (status);
CREATE INDEX agents_is_public_idx ON agents (is_public);
CREATE INDEX agents_tags_idx ON agents USING gin (tags);
CREATE INDEX agents_created_at_idx ON agents (created_at);
CREATE INDEX agents_parent_id_idx ON agents (parent_id);

CREATE TABLE workflows (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    name text NOT NULL,
    description text,
    status text NOT NULL DEFAULT 'DRAFT'
        CHECK (status IN ('DRAFT', 'ACTIVE', 'INACTIVE', 'ARCHIVED')),
    definition jsonb NOT NULL DEFAULT '{}',
    trigger_config jsonb NOT NULL DEFAULT '{}',
    schedule_enabled boolean NOT NULL DEFAULT false,
    schedule_cron text,
    schedule_timezone text NOT NULL DEFAULT 'UTC',
    timeout_seconds double precision NOT NULL DEFAULT 3600,
    max_concurrency integer NOT NULL DEFAULT 8,
    concurrency_limit integer,
    version integer NOT NULL DEFAULT 1,
    parent_id uuid,
    tags text[] NOT NULL DEFAULT '{}',
    is_public boolean NOT NULL DEFAULT false,
    total_executions bigint NOT NULL DEFAULT 0 CHECK (total_executions >= 0),
    successful_executions bigint NOT NULL DEFAULT 0 CHECK (successful_executions >= 0),
    failed_executions bigint NOT NULL DEFAULT 0 CHECK (failed_executions >= 0),
    avg_execution_time_ms double precision NOT NULL DEFAULT 0,
    last_execution_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX workflows_user_id_idx ON workflows (user_id);
CREATE INDEX workflows_status_idx ON workflows (status);
CREATE INDEX workflows_is_public_idx ON workflows (is_public);
CREATE INDEX workflows_tags_idx ON workflows USING gin (tags);
CREATE INDEX workflows_created_at_idx ON workflows (created_at);
CREATE INDEX workflows_schedule_enabled_idx ON workflows (schedule_enabled);
CREATE INDEX workflows_parent_id_idx ON workflows (parent_id);

CREATE TABLE workflow_steps (
    id uuid PRIMARY KEY,
    workflow_id uuid NOT NULL,
    step_key text NOT NULL,
    step_name text NOT NULL,
    step_type text NOT NULL
        CHECK (step_type IN ('AGENT', 'CONDITION', 'LOOP', 'PARALLEL', 'WAIT')),
    agent_id uuid,
    position integer NOT NULL DEFAULT 0,
    config jsonb NOT NULL DEFAULT '{}',
    inputs jsonb NOT NULL DEFAULT '{}',
    depends_on text[] NOT NULL DEFAULT '{}',
    retry_count integer NOT NULL DEFAULT 0 CHECK (retry_count BETWEEN 0 AND 10),
    retry_delay_ms integer NOT NULL DEFAULT 1000,
    timeout_seconds double precision,
    on_error text NOT NULL DEFAULT 'FAIL' CHECK (on_error IN ('FAIL', 'CONTINUE', 'RETRY')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (workflow_id, step_key)
);
CREATE INDEX workflow_steps_agent_id_idx ON workflow_steps (agent_id);
CREATE INDEX workflow_steps_workflow_id_position_idx ON workflow_steps (workflow_id, position);

CREATE TABLE executions (
    id uuid PRIMARY KEY,
    workflow_id uuid NOT NULL,
    user_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'PENDING' CHECK (
        status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT')
    ),
    trigger_type text NOT NULL DEFAULT 'MANUAL'
        CHECK (trigger_type IN ('MANUAL', 'SCHEDULED', 'API', 'WEBHOOK', 'EVENT')),
    trigger_data jsonb NOT NULL DEFAULT '{}',
    input_data jsonb NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    output_data jsonb,
    error_message text,
    started_at timestamptz,
    completed_at timestamptz,
    duration_ms double precision,
    steps_total integer NOT NULL DEFAULT 0 CHECK (steps_total >= 0),
    steps_completed integer NOT NULL DEFAULT 0 CHECK (steps_completed >= 0),
    steps_failed integer NOT NULL DEFAULT 0 CHECK (steps_failed >= 0),
    workflow_version integer NOT NULL DEFAULT 1,
    steps jsonb NOT NULL DEFAULT '[]',  -- the pinned snapshot: written by INSERT only
    timeout_seconds double precision NOT NULL DEFAULT 3600,
    max_concurrency integer NOT NULL DEFAULT 8,
    retry_of uuid,
    parent_execution_id uuid,
    depth integer NOT NULL DEFAULT 0,
    deployment_id uuid,
    log_seq bigint NOT NULL DEFAULT 0 CHECK (log_seq >= 0),  -- the last seq of its logs
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX executions_workflow_id_created_at_idx ON executions (workflow_id, created_at);
CREATE INDEX executions_user_id_idx ON executions (user_id);
CREATE INDEX executions_status_idx ON executions (status);
CREATE INDEX executions_created_at_idx ON executions (created_at);
CREATE INDEX executions_completed_at_idx ON executions (completed_at);

CREATE TABLE step_runs (
    id uuid PRIMARY KEY,
    position bigint GENERATED ALWAYS AS IDENTITY,  -- the order rows were first saved in
    execution_id uuid NOT NULL,
    step_key text NOT NULL,
    step_id uuid,
    status text NOT NULL
        CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')),
    attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    output jsonb,
    error text,
    started_at timestamptz,
    completed_at timestamptz,
    duration_ms double precision,
    reused_from uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (execution_id, step_key)
);

CREATE TABLE execution_logs (
    id uuid PRIMARY KEY,
    execution_id uuid NOT NULL,
    seq bigint NOT NULL,
    workflow_step_id uuid,
    step_key text,
    level text NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL')),
    message text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    step_status text
        CHECK (step_status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')),
    step_started_at timestamptz,
    step_completed_at timestamptz,
    step_duration_ms double precision,
    attempt integer CHECK (attempt >= 0),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (execution_id, seq)
);
CREATE INDEX execution_logs_created_at_idx ON execution_logs (created_at);

CREATE TABLE templates (
    id uuid PRIMARY KEY,
    user_id uuid,  -- NULL for official templates
    name text NOT NULL,
    type text NOT NULL CHECK (type IN ('AGENT', 'WORKFLOW', 'STEP')),
    category text NOT NULL,
    description text,
    template_data jsonb NOT NULL DEFAULT '{}',
    is_official boolean NOT NULL DEFAULT false,
    is_public boolean NOT NULL DEFAULT false,
    usage_count bigint NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    rating_average double precision NOT NULL DEFAULT 0,
    rating_count integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    tags text[] NOT NULL DEFAULT '{}',
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX templates_user_id_idx ON templates (user_id);
CREATE INDEX templates_category_idx ON templates (category);
CREATE INDEX templates_type_idx ON templates (type);
CREATE INDEX templates_is_official_idx ON templates (is_official);
CREATE INDEX templates_is_public_idx ON templates (is_public);
CREATE INDEX templates_usage_count_idx ON templates (usage_count);
CREATE INDEX templates_tags_idx ON templates USING gin (tags);

CREATE TABLE deployments (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    name text NOT NULL,
    workflow_id uuid,
    agent_id uuid,
    description text,
    environment text NOT NULL DEFAULT 'DEVELOPMENT'
        CHECK (environment IN ('DEVELOPMENT', 'STAGING', 'PRODUCTION')),
    status text NOT NULL DEFAULT 'STOPPED' CHECK (
        status IN ('STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'FAILED', 'MAINTENANCE')
    ),
    config jsonb NOT NULL DEFAULT '{}',
    environment_variables jsonb NOT NULL DEFAULT '{}',  -- SecretBox ciphertexts only
    health_status text NOT NULL DEFAULT 'UNKNOWN'
        CHECK (health_status IN ('UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DEGRADED')),
    last_health_check_at timestamptz,
    allocated_memory_mb integer,
    allocated_cpu double precision,
    started_at timestamptz,
    stopped_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT deployments_one_target CHECK (num_nonnulls(workflow_id, agent_id) = 1)
);
CREATE INDEX deployments_user_id_idx ON deployments (user_id);
CREATE INDEX deployments_workflow_id_idx ON deployments (workflow_id);
CREATE INDEX deployments_agent_id_idx ON deployments (agent_id);
CREATE INDEX deployments_status_idx ON deployments (status);
CREATE INDEX deployments_environment_idx ON deployments (environment);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    name text NOT NULL,
    key_prefix text NOT NULL,
    key_hash text NOT NULL UNIQUE,  -- SHA-256 hex of the key
    scopes text[] NOT NULL DEFAULT '{*}',
    rate_limit_per_minute integer NOT NULL DEFAULT 60,
    expires_at timestamptz,
    last_used_at timestamptz,
    usage_count bigint NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    is_active boolean NOT NULL DEFAULT true,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);

CREATE TABLE audit_logs (
    id uuid PRIMARY KEY,
    user_id uuid,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text,
    changes jsonb NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    ip_address text,
    user_agent text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX audit_logs_user_id_idx ON audit_logs (user_id);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);
CREATE INDEX audit_logs_action_idx ON audit_logs (action);
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at);
