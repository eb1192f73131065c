-- FUNCTION agents (a Python function registered in the process that runs the step, config
-- {"function": name}) are stored like every other agent type.
ALTER TABLE agents DROP CONSTRAINT agents_type_check;
ALTER TABLE agents ADD CONSTRAINT agents_type_check
    CHECK (type IN ('CODE', 'API', 'LLM', 'DATA', 'WORKFLOW', 'FUNCTION'));
