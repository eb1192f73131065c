"""The DATA agent: filter, reshape, sort, join and aggregate JSON data with pure functions."""

from __future__ import annotations

from turbocat_core.agents.data.errors import DataError
from turbocat_core.agents.data.operations import OPERATIONS
from turbocat_core.agents.data.operators import OPERATORS, compare
from turbocat_core.agents.data.runner import run_data, validate_data_config

__all__ = ["OPERATIONS", "OPERATORS", "DataError", "compare", "run_data", "validate_data_config"]
