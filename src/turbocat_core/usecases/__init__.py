"""Use cases: what each front end asks of the core, one module per resource or concern; each
receives its ports explicitly."""
