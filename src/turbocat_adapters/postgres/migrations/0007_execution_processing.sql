-- Who processes a run, so that one whose processing keeps failing (its process dies, its
-- writes fail) ends FAILED after TURBOCAT_MAX_RUN_RECOVERIES instead of looping
-- (docs/engine.md, "Runs whose processing keeps failing"). Only the engine's
-- begin/end_processing statements write these columns; constant defaults make adding
-- them a change of the catalog alone, without rewriting the table.
ALTER TABLE executions
    ADD COLUMN recoveries integer NOT NULL DEFAULT 0,
    ADD COLUMN processing text,
    ADD COLUMN last_failure text;
