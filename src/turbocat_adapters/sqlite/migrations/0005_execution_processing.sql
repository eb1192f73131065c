-- Who processes a run, so that one whose processing keeps failing (its process dies, its
-- writes fail) ends FAILED after TURBOCAT_MAX_RUN_RECOVERIES instead of looping
-- (docs/engine.md, "Runs whose processing keeps failing"). Only the engine's
-- begin/end_processing statements write these columns.
ALTER TABLE executions ADD COLUMN recoveries INTEGER NOT NULL DEFAULT 0
    CONSTRAINT ck_executions_recoveries CHECK (recoveries >= 0);
ALTER TABLE executions ADD COLUMN processing TEXT;
ALTER TABLE executions ADD COLUMN last_failure TEXT;
