"""A run's secrets (``{{env.NAME}}``, a deployment's variables) and who may read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnv:
    """The values a run's ``{{env.NAME}}`` references stand for, and whose they are.

    ``owner`` is the user whose deployment holds the values. Only definitions that user
    wrote may read them: their own agents (config references, and ``RunContext.env`` for
    the executor, e.g. the LLM agent's key lookup) and the step definitions of their own
    workflow. Another user's agent gets an empty ``RunContext.env``, and a reference to
    ``env`` in its config fails the step (:func:`refused_to_agent`). ``owner=None`` (an
    embedder's provider that names none): the values are the run's owner's, that is the
    workflow's owner's.
    """

    values: Mapping[str, str] = field(default_factory=dict)
    owner: UserId | None = None


NO_ENV: Final = RunEnv()
"""A run with no secrets (not started by a deployment, or no encryption key configured)."""


def refused_to_agent(agent: Agent, path: str) -> AgentFailure:
    """The step failure when another user's agent's config references ``env``."""
    return AgentFailure(
        f"agent {agent.name!r} ({agent.id}) belongs to another user and its config references "
        f"{{{{{path}}}}}: deployment variables are only given to their owner's own agents "
        "(pass the value explicitly as a step input if you mean this agent to have it)",
        retryable=False,
    )


def refused_to_steps(path: str) -> AgentFailure:
    """The step failure when the steps of a workflow whose owner does not own the run's
    deployment variables (an ADMIN's deployment or child run of another user's workflow,
    or a workflow deleted since) reference ``env``."""
    return AgentFailure(
        f"{{{{{path}}}}} cannot be read here: this run's deployment variables belong to "
        "another user than this workflow's owner (or the workflow was deleted), and are only "
        "given to definitions of their owner",
        retryable=False,
    )
