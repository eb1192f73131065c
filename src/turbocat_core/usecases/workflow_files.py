"""Workflow files (docs/workflow-files.md): parse one into agents, a workflow and steps;
export one back.

A file is plain data (the CLI reads JSON or YAML, the API reads JSON). Agents have local
names; steps, LOOP configs and PARALLEL branches say ``"agent": "<local name>"`` where the
API says ``agentId``, or ``"function": "<name>"``: short for a FUNCTION agent with config
``{"function": name}``, which the file's blueprint then creates (one per function name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.domain.access import Actor, require_scope
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, StepId, WorkflowId, check_name, clean_tags
from turbocat_core.domain.workflow import OnError, StepType, Workflow, WorkflowStatus, WorkflowStep
from turbocat_core.engine.validation import agent_ref, validate_steps
from turbocat_core.errors import FieldError, ValidationFailed, did_you_mean
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.storage import UnitOfWorkFactory
from turbocat_core.usecases.audit import audit

FILE_KEYS: Final = frozenset(
    {
        "name",
        "description",
        "inputs",
        "agents",
        "steps",
        "tags",
        "timeoutSeconds",
        "maxConcurrency",
        "concurrencyLimit",
        "version",
        "$schema",
    }
)
AGENT_KEYS: Final = frozenset(
    {"type", "config", "name", "description", "maxExecutionTime", "maxMemoryMb", "tags"}
)
STEP_KEYS: Final = frozenset(
    {
        "stepKey",
        "stepName",
        "stepType",
        "agent",
        "function",
        "position",
        "config",
        "inputs",
        "dependsOn",
        "retryCount",
        "retryDelayMs",
        "timeoutSeconds",
        "onError",
    }
)
FORMAT_VERSION: Final = 1
WORKFLOW_IMPORTED: Final = "workflow.imported"


@dataclass(frozen=True, slots=True, kw_only=True)
class Blueprint:
    """A parsed file made concrete for one owner: new agents, a workflow and its steps."""

    agents: dict[str, Agent]
    workflow: Workflow
    steps: list[WorkflowStep]


class _Problems:
    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.found.append(FieldError(field, message))

    def raise_if_any(self) -> None:
        if self.found:
            first = self.found[0]
            more = f" (and {len(self.found) - 1} more)" if len(self.found) > 1 else ""
            raise ValidationFailed(f"{first.field}: {first.message}{more}", self.found)


def _unknown_keys(
    value: Mapping[str, Any], allowed: frozenset[str], at: str, problems: _Problems
) -> None:
    for key in value:
        if key not in allowed:
            problems.add(f"{at}{key}", f"unknown field{did_you_mean(key, allowed)}")


def _number(
    value: Any, at: str, problems: _Problems, *, minimum: float, integer: bool = True
) -> Any:
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        problems.add(at, f"must be {'a whole number' if integer else 'a number'} >= {minimum:g}")
        return None
    return value


def _enum(kind: Any, value: Any, at: str, problems: _Problems) -> Any:
    try:
        return kind(value)
    except ValueError:
        problems.add(at, f"must be one of {', '.join(member.value for member in kind)}")
        return None


def _list_of_str(value: Any, at: str, problems: _Problems) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(at, "must be a list of strings")
        return []
    return list(value)


def _step_problems_too(steps: list[WorkflowStep], problems: _Problems) -> None:
    """Add the engine's problems with ``steps`` to the file's own, so one reading names them
    all; a missing ``agentId`` is left out where the file already named a bad agent."""
    try:
        validate_steps(steps)
    except ValidationFailed as error:
        named = {
            found.field.rsplit(".", 1)[0]
            for found in problems.found
            if found.field.endswith((".agent", ".function"))
        }
        problems.found.extend(
            detail
            for detail in error.details
            if not (detail.field.endswith(".agentId") and detail.field.rsplit(".", 1)[0] in named)
        )


AgentNames = Callable[[Any, str], AgentId | None]


def _swap_agent_names(
    value: Mapping[str, Any], at: str, names: AgentNames, functions: AgentNames
) -> dict[str, Any]:
    """A LOOP config or PARALLEL branch with ``agent: name`` (or ``function: name``) turned
    into ``agentId: id``."""
    swapped = {key: item for key, item in value.items() if key not in ("agent", "function")}
    agent_id = _agent_or_function(value, at, names, functions)
    if agent_id is not None:
        swapped["agentId"] = str(agent_id)
    return swapped


def _agent_or_function(
    value: Mapping[str, Any], at: str, names: AgentNames, functions: AgentNames
) -> AgentId | None:
    """The agent ``value`` names by ``agent`` or by ``function`` (both: a problem at
    ``function``, reported through ``functions``' problems by the caller)."""
    if "function" in value:
        if "agent" in value:
            return functions(_BOTH, f"{at}.function")
        return functions(value["function"], f"{at}.function")
    if "agent" in value:
        return names(value["agent"], f"{at}.agent")
    return None


_BOTH: Final = object()
"""Passed to the function resolver when a place names both an agent and a function."""


def _new_agent(
    ids: IdGenerator,
    owner: Any,
    now: Any,
    agent_type: AgentType,
    name: str,
    config: dict[str, Any],
    **more: Any,
) -> Agent:
    return Agent(
        id=AgentId(ids.new_id()),
        created_at=now,
        updated_at=now,
        user_id=owner,
        name=name,
        type=agent_type,
        status=AgentStatus.ACTIVE,
        config=config,
        **more,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowFiles:
    """Reads workflow files into blueprints, and writes workflows back out as files."""

    clock: Clock
    ids: IdGenerator
    executors: AgentExecutors

    def blueprint(self, document: Any, owner: Any) -> Blueprint:
        """Check a parsed file completely; ``ValidationFailed`` names every bad field.

        Ids are new, so the same file imports into any account or server.
        """
        problems = _Problems()
        if not isinstance(document, dict):
            raise ValidationFailed.field("$", "a workflow file is an object")
        _unknown_keys(document, FILE_KEYS, "", problems)
        now = self.clock.now()
        agents = self._agents(document.get("agents", {}), owner, now, problems)
        by_name = {name: agent.id for name, agent in agents.items()}

        def agent_id_for(name: Any, at: str) -> AgentId | None:
            if not isinstance(name, str) or name not in by_name:
                problems.add(
                    at, f"names no agent of this file: {name!r}{did_you_mean(name, by_name)}"
                )
                return None
            return by_name[name]

        functions = _Functions(self, owner, now, taken=set(agents))
        workflow = self._workflow(document, owner, now, problems)
        raw_steps = document.get("steps")
        steps: list[WorkflowStep] = []
        if not isinstance(raw_steps, list) or not raw_steps:
            problems.add("steps", "must be a non-empty list of steps")
        else:
            for index, raw in enumerate(raw_steps):
                key = raw.get("stepKey") if isinstance(raw, dict) else None

                def function_id_for(name: Any, at: str, key: Any = key) -> AgentId | None:
                    return functions.agent_id(name, at, key, problems)

                step = self._step(
                    raw, index, workflow.id, now, agent_id_for, function_id_for, problems
                )
                if step is not None:
                    steps.append(step)
        if problems.found and isinstance(raw_steps, list) and len(steps) == len(raw_steps):
            _step_problems_too(steps, problems)
        problems.raise_if_any()
        validate_steps(steps)
        return Blueprint(agents={**agents, **functions.agents}, workflow=workflow, steps=steps)

    def _agents(self, raw: Any, owner: Any, now: Any, problems: _Problems) -> dict[str, Agent]:
        if not isinstance(raw, dict):
            problems.add("agents", "must be an object of local names to {type, config}")
            return {}
        agents = {}
        for name, spec in raw.items():
            at = f"agents.{name}"
            if not isinstance(spec, dict):
                problems.add(at, "must be an object {type, config}")
                continue
            _unknown_keys(spec, AGENT_KEYS, f"{at}.", problems)
            agent_type = _enum(AgentType, spec.get("type"), f"{at}.type", problems)
            config = spec.get("config", {})
            if not isinstance(config, dict):
                problems.add(f"{at}.config", "must be an object")
                continue
            if agent_type is None:
                continue
            try:
                self.executors.check_config(agent_type, config)
            except ValidationFailed as error:
                for detail in error.details:
                    problems.add(f"{at}.{detail.field}", detail.message)
            agents[name] = _new_agent(
                self.ids,
                owner,
                now,
                agent_type,
                str(spec.get("name") or name),
                config,
                description=spec.get("description"),
                max_execution_time=spec.get("maxExecutionTime", 300),
                max_memory_mb=spec.get("maxMemoryMb", 512),
                tags=tuple(spec.get("tags", ())),
            )
        return agents

    def _workflow(
        self, document: dict[str, Any], owner: Any, now: Any, problems: _Problems
    ) -> Workflow:
        name = document.get("name")
        if not isinstance(name, str):
            problems.add("name", "is required (a string)")
            name = "untitled"
        else:
            try:
                name = check_name(name)
            except ValidationFailed as error:
                problems.found.extend(error.details)
        inputs = document.get("inputs", {})
        if not isinstance(inputs, dict):
            problems.add("inputs", "must be an object of default input values")
            inputs = {}
        timeout = _number(
            document.get("timeoutSeconds", 3600),
            "timeoutSeconds",
            problems,
            minimum=1,
            integer=False,
        )
        concurrency = _number(
            document.get("maxConcurrency", 8), "maxConcurrency", problems, minimum=1
        )
        limit = document.get("concurrencyLimit")
        if limit is not None:
            limit = _number(limit, "concurrencyLimit", problems, minimum=1)
        tags: tuple[str, ...] = ()
        try:
            tags = clean_tags(_list_of_str(document.get("tags", []), "tags", problems))
        except ValidationFailed as error:
            problems.found.extend(error.details)
        return Workflow(
            id=WorkflowId(self.ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=owner,
            name=name,
            description=document.get("description"),
            status=WorkflowStatus.ACTIVE,
            definition={"inputs": inputs} if inputs else {},
            timeout_seconds=timeout or 3600,
            max_concurrency=concurrency or 8,
            concurrency_limit=limit,
            tags=tags,
        )

    def _step(
        self,
        raw: Any,
        index: int,
        workflow_id: WorkflowId,
        now: Any,
        agent_id_for: AgentNames,
        function_id_for: AgentNames,
        problems: _Problems,
    ) -> WorkflowStep | None:
        at = f"steps.{index}"
        if not isinstance(raw, dict):
            problems.add(at, "must be an object")
            return None
        _unknown_keys(raw, STEP_KEYS, f"{at}.", problems)
        key = raw.get("stepKey")
        if not isinstance(key, str):
            problems.add(f"{at}.stepKey", "is required (a string)")
            return None
        step_type = _enum(StepType, raw.get("stepType", "AGENT"), f"{at}.stepType", problems)
        on_error = _enum(OnError, raw.get("onError", "FAIL"), f"{at}.onError", problems)
        config = raw.get("config", {})
        inputs = raw.get("inputs", {})
        for name, value in (("config", config), ("inputs", inputs)):
            if not isinstance(value, dict):
                problems.add(f"{at}.{name}", "must be an object")
        if (
            step_type is None
            or on_error is None
            or not isinstance(config, dict)
            or not isinstance(inputs, dict)
        ):
            return None
        agent_id = None
        if step_type is StepType.AGENT:
            if "function" in raw:
                agent_id = _agent_or_function(raw, at, agent_id_for, function_id_for)
            else:
                agent_id = agent_id_for(raw.get("agent"), f"{at}.agent")
        else:
            for field in ("agent", "function"):
                if field in raw:
                    problems.add(f"{at}.{field}", f"a {step_type} step names its agents in config")
        if step_type is StepType.LOOP:
            config = _swap_agent_names(config, f"{at}.config", agent_id_for, function_id_for)
        elif step_type is StepType.PARALLEL and isinstance(config.get("branches"), dict):
            config = {
                **config,
                "branches": {
                    name: _swap_agent_names(
                        branch, f"{at}.config.branches.{name}", agent_id_for, function_id_for
                    )
                    if isinstance(branch, dict)
                    else branch
                    for name, branch in config["branches"].items()
                },
            }
        timeout = raw.get("timeoutSeconds")
        if timeout is not None:
            timeout = _number(
                timeout, f"{at}.timeoutSeconds", problems, minimum=0.001, integer=False
            )
        return WorkflowStep(
            id=StepId(self.ids.new_id()),
            created_at=now,
            updated_at=now,
            workflow_id=workflow_id,
            step_key=key,
            step_name=str(raw.get("stepName") or key),
            step_type=step_type,
            agent_id=agent_id,
            position=_number(raw.get("position", index), f"{at}.position", problems, minimum=0)
            or index,
            config=config,
            inputs=inputs,
            depends_on=tuple(_list_of_str(raw.get("dependsOn", []), f"{at}.dependsOn", problems)),
            retry_count=_number(raw.get("retryCount", 0), f"{at}.retryCount", problems, minimum=0)
            or 0,
            retry_delay_ms=_number(
                raw.get("retryDelayMs", 1000), f"{at}.retryDelayMs", problems, minimum=0
            )
            or 0,
            timeout_seconds=timeout,
            on_error=on_error,
        )

    def export(
        self, workflow: Workflow, steps: Sequence[WorkflowStep], agents: Mapping[AgentId, Agent]
    ) -> dict[str, Any]:
        """The file that re-creates ``workflow`` (with the agents its steps use) anywhere.

        A FUNCTION agent the shorthand would re-create exactly (config ``{"function": f}``,
        named ``f``, no description) is written as ``"function": f`` where it is used, and
        is not listed under ``agents``; any other agent is written out in full.
        """
        functions = {
            agent_id: agent.config["function"]
            for agent_id, agent in agents.items()
            if _is_shorthand(agent)
        }
        names: dict[AgentId, str] = {}
        taken: set[str] = set()
        for agent_id, agent in agents.items():
            if agent_id in functions:
                continue
            base = re.sub(r"[^A-Za-z0-9_-]+", "_", agent.name).strip("_").lower() or "agent"
            name, n = base, 2
            while name in taken:
                name, n = f"{base}_{n}", n + 1
            taken.add(name)
            names[agent_id] = name

        def named(value: dict[str, Any]) -> dict[str, Any]:
            out = {key: item for key, item in value.items() if key != "agentId"}
            ref = agent_ref(value.get("agentId"))
            if ref is not None and ref in functions:
                out["function"] = functions[ref]
            elif ref is not None and ref in names:
                out["agent"] = names[ref]
            return out

        exported_steps = []
        for step in steps:
            item: dict[str, Any] = {
                "stepKey": step.step_key,
                "stepName": step.step_name,
                "stepType": step.step_type.value,
                "position": step.position,
            }
            if step.agent_id is not None and step.agent_id in functions:
                item["function"] = functions[step.agent_id]
            elif step.agent_id is not None and step.agent_id in names:
                item["agent"] = names[step.agent_id]
            config = step.config
            if step.step_type is StepType.LOOP:
                config = named(config)
            elif step.step_type is StepType.PARALLEL and isinstance(config.get("branches"), dict):
                config = {
                    **config,
                    "branches": {
                        k: named(b) if isinstance(b, dict) else b
                        for k, b in config["branches"].items()
                    },
                }
            item.update(
                config=config,
                inputs=step.inputs,
                dependsOn=list(step.depends_on),
                retryCount=step.retry_count,
                retryDelayMs=step.retry_delay_ms,
                onError=step.on_error.value,
            )
            if step.timeout_seconds is not None:
                item["timeoutSeconds"] = step.timeout_seconds
            exported_steps.append(item)
        document: dict[str, Any] = {"version": FORMAT_VERSION, "name": workflow.name}
        if workflow.description:
            document["description"] = workflow.description
        inputs = workflow.definition.get("inputs")
        if isinstance(inputs, dict) and inputs:
            document["inputs"] = inputs
        document.update(
            timeoutSeconds=workflow.timeout_seconds,
            maxConcurrency=workflow.max_concurrency,
            tags=list(workflow.tags),
            agents={
                names[a.id]: {
                    "type": a.type.value,
                    "name": a.name,
                    "config": a.config,
                    **({"description": a.description} if a.description else {}),
                }
                for a in agents.values()
                if a.id not in functions
            },
            steps=exported_steps,
        )
        if workflow.concurrency_limit is not None:
            document["concurrencyLimit"] = workflow.concurrency_limit
        return document


def _is_shorthand(agent: Agent) -> bool:
    """Whether ``"function": name`` re-creates ``agent`` as it is (see ``_Functions``)."""
    name = agent.config.get("function")
    return (
        agent.type is AgentType.FUNCTION
        and isinstance(name, str)
        and agent.config == {"function": name}
        and agent.name == name
        and not agent.description
    )


class _Functions:
    """The FUNCTION agents a file's ``"function": name`` shorthand asks for: one per name,
    checked once by the FUNCTION executor (so an unregistered name is refused here, before
    anything is stored or run), under a local name no declared agent of the file has."""

    def __init__(self, files: WorkflowFiles, owner: Any, now: Any, *, taken: set[str]) -> None:
        self._files, self._owner, self._now, self._taken = files, owner, now, taken
        self.agents: dict[str, Agent] = {}
        self._by_function: dict[str, Agent | list[str]] = {}

    def agent_id(self, name: Any, at: str, step_key: Any, problems: _Problems) -> AgentId | None:
        where = f"step {step_key!r}" if isinstance(step_key, str) else "this step"
        if name is _BOTH:
            problems.add(at, f"{where} names an agent and a function: name one")
            return None
        config = {"function": name}
        key = name if isinstance(name, str) else repr(name)
        known = self._by_function.get(key)
        if known is None:
            known = self._make(name, config)
            self._by_function[key] = known
        if isinstance(known, list):
            for message in known:
                problems.add(at, f"{where}: {message}")
            return None
        return known.id

    def _make(self, name: Any, config: dict[str, Any]) -> Agent | list[str]:
        try:
            self._files.executors.check_config(AgentType.FUNCTION, config)
        except ValidationFailed as error:
            return [detail.message for detail in error.details] or [str(error)]
        local, n = name, 2
        while local in self._taken:
            local, n = f"{name}_{n}", n + 1
        self._taken.add(local)
        agent = _new_agent(
            self._files.ids, self._owner, self._now, AgentType.FUNCTION, name, config
        )
        self.agents[local] = agent
        return agent


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportWorkflow:
    """Store a workflow file's agents, workflow and steps for the actor, in one transaction.

    ``ValidationFailed`` names the file's paths; ``PermissionDenied`` when the file carries
    agents and the actor's API key lacks ``agents:write`` (nothing is stored then).
    """

    uow: UnitOfWorkFactory
    files: WorkflowFiles

    async def __call__(
        self, actor: Actor, document: Any, *, status: WorkflowStatus = WorkflowStatus.DRAFT
    ) -> Blueprint:
        blueprint = self.files.blueprint(document, actor.user_id)
        if blueprint.agents:  # importing creates them: as POST /agents would
            require_scope(actor, "agents", "write")
        blueprint = replace(blueprint, workflow=replace(blueprint.workflow, status=status))
        async with self.uow() as uow:
            for agent in blueprint.agents.values():
                await uow.agents.add(agent)
            await uow.workflows.add(blueprint.workflow)
            for step in blueprint.steps:
                await uow.steps.add(step)
            await audit(
                uow,
                self.files.clock,
                self.files.ids,
                WORKFLOW_IMPORTED,
                user_id=actor.user_id,
                resource_type="workflow",
                resource_id=blueprint.workflow.id,
                metadata={
                    "name": blueprint.workflow.name,
                    "agents": [str(agent.id) for agent in blueprint.agents.values()],
                    "steps": [step.step_key for step in blueprint.steps],
                },
            )
            await uow.commit()
        return blueprint
