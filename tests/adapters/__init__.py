"""Tests of adapter specifics (in-memory store internals, clocks, ids, in-process tasks)."""
