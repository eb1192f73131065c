"""The LLM agent's tool-calling loop (docs/agents.md, "Tools").

Call the model; run the tool calls it asks for (at most ``toolConcurrency`` at once, each
through ``RunContext.calls``: the path a step's agent takes); send the results back; repeat
until it answers without tool calls. Every model response and every tool result is journaled
(``RunContext.checkpoint``) before anything depends on it, so an attempt that starts from
``RunContext.restored`` makes no finished call again: only the one in flight when the last
attempt stopped.

The state journaled, the step's output when it ends and what a failed step keeps, is
``{"transcript": [messages], "turns": [one per model call], "usage": totals}``, messages in
the provider-neutral form of ``LlmRequest.messages``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from turbocat_core.agents.contract import LogLine, RunContext
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.agents.streaming import TokenLines
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.approval import PENDING, REJECTED
from turbocat_core.domain.common import JsonObject
from turbocat_core.domain.execution import LogLevel
from turbocat_core.ports.agents import (
    JsonSchemas,
    LlmClient,
    LlmRequest,
    LlmResponse,
    McpClient,
    ToolSpec,
)

DEFAULT_MAX_TURNS: Final = 10
DEFAULT_TOOL_CONCURRENCY: Final = 4
ANY_OBJECT: Final[JsonObject] = {"type": "object", "properties": {}}
"""The arguments' schema of a tool whose agent declares none."""
_UNSAFE: Final = re.compile(r"[^a-zA-Z0-9_-]+")
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def tool_name(agent_name: str) -> str:
    """An agent's name as both providers accept a tool's: ``[a-zA-Z0-9_-]{1,64}``."""
    return _UNSAFE.sub("_", agent_name).strip("_")[:64] or "tool"


@dataclass(frozen=True, slots=True)
class McpTarget:
    """Where an MCP tool lives: the server's URL and headers, the tool's own name there."""

    url: str
    headers: Mapping[str, str]
    name: str


@dataclass(frozen=True, slots=True)
class Tool:
    spec: ToolSpec
    agent: Agent | None
    approval: bool = False
    mcp: McpTarget | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The final answer's text and the JSON checks it must pass (``responseFormat: json``)."""

    json: bool
    schema: Mapping[str, Any] | None


class Conversation:
    """One attempt of one LLM step with tools or an ``outputSchema``."""

    def __init__(
        self,
        client: LlmClient,
        schemas: JsonSchemas | None,
        mcp: McpClient | None,
        agent: Agent,
        config: JsonObject,
        request: LlmRequest,
        ctx: RunContext,
        parse_json: Callable[[str], Any],
    ) -> None:
        self.client = client
        self.schemas = schemas
        self.mcp = mcp
        self.agent = agent
        self.config = config
        self.request = request
        self.ctx = ctx
        self.parse_json = parse_json
        self.max_turns: int = config.get("maxTurns", DEFAULT_MAX_TURNS)
        self.max_tokens: int | None = config.get("maxTotalTokens")
        self.concurrency: int = config.get("toolConcurrency", DEFAULT_TOOL_CONCURRENCY)
        self.answer = Answer(request.json_response, config.get("outputSchema"))
        self.messages: list[JsonObject] = []
        self.turns: list[JsonObject] = []
        self.usage = {"promptTokens": 0, "completionTokens": 0, "totalTokens": 0}
        self.tools: dict[str, Tool] = {}
        self.approvals: dict[str, JsonObject] = {}
        """Calls of tools with ``requiresApproval``, by call id: PENDING, APPROVED, REJECTED."""
        self._lock = asyncio.Lock()
        self._restore(ctx.restored)

    # --- state -------------------------------------------------------------------------

    def state(self) -> JsonObject:
        state: JsonObject = {
            "transcript": list(self.messages),
            "turns": list(self.turns),
            "usage": dict(self.usage),
        }
        if self.approvals:
            state["approvals"] = dict(self.approvals)
        return state

    def _restore(self, saved: Any) -> None:
        if not (
            isinstance(saved, dict)
            and isinstance(saved.get("transcript"), list)
            and isinstance(saved.get("turns"), list)
            and isinstance(saved.get("usage"), dict)
        ):
            return
        self.messages = list(saved["transcript"])
        self.turns = list(saved["turns"])
        self.usage.update(saved["usage"])
        self._take_decisions(saved)

    def _take_decisions(self, saved: Any) -> None:
        approvals = saved.get("approvals") if isinstance(saved, dict) else None
        if isinstance(approvals, dict):
            for call_id, decision in approvals.items():
                if isinstance(decision, dict):
                    self.approvals[call_id] = decision

    async def _save(self, line: LogLine | None) -> None:
        if self.ctx.checkpoint is not None:
            await self.ctx.checkpoint(self.state(), line)
        elif line is not None:
            await self.ctx.log(*line)

    # --- the loop ----------------------------------------------------------------------

    async def run(self) -> JsonObject:
        try:
            return await self._run()
        except AgentFailure as failure:
            if failure.output is None:
                failure.output = self.state()
            raise

    async def _run(self) -> JsonObject:
        if self.config.get("tools"):
            self.tools = await self._tools()
        specs = tuple(tool.spec for tool in self.tools.values())
        while True:
            asked = self._asked()
            if asked is not None:
                calls = asked.get("toolCalls") or []
                if not calls:
                    done = await self._final(asked)
                    if done is not None:
                        return done
                else:
                    self._check_limits()
                    await self._answer(calls)
            await self._ask(specs)

    def _asked(self) -> JsonObject | None:
        """The model's last message, unless something was said to it since (tool results
        count as its own turn still going on)."""
        for message in reversed(self.messages):
            if message.get("role") == "assistant":
                return message
            if message.get("role") != "tool":
                return None
        return None

    async def _ask(self, specs: tuple[ToolSpec, ...]) -> None:
        """One model call, journaled with its turn's log line."""
        request = replace(self.request, messages=tuple(self.messages), tools=specs)
        number = len(self.turns) + 1
        if request.stream:
            tokens = TokenLines(self.ctx.log, number)
            response = await self.client.complete(request, tokens)
            await tokens.close()
        else:
            response = await self.client.complete(request)
        usage = _usage(response)
        for key, value in usage.items():
            self.usage[key] = self.usage.get(key, 0) + value
        calls = [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in response.tool_calls
        ]
        message: JsonObject = {"role": "assistant", "content": response.text}
        if calls:
            message["toolCalls"] = calls
        turn: JsonObject = {
            "turn": number,
            "model": response.model,
            "finishReason": response.finish_reason,
            "usage": usage,
            "toolCalls": [call["name"] for call in calls],
        }
        self.messages.append(message)
        self.turns.append(turn)
        if calls:
            names = ", ".join(call["name"] for call in calls)
            text = f"turn {number}: the model asked for {len(calls)} tool call(s): {names}"
        else:
            text = f"turn {number}: the model answered ({response.finish_reason or 'done'})"
        metadata: JsonObject = {"turn": number, "usage": usage, "toolCalls": calls}
        async with self._lock:
            await self._save((LogLevel.INFO, text, metadata))

    def _check_limits(self) -> None:
        """The model asks for tools: fail if it may not be asked again."""
        name = self.agent.name
        if len(self.turns) >= self.max_turns:
            raise AgentFailure(
                f"LLM agent {name!r} reached its maxTurns of {self.max_turns} with the model "
                "still asking for tools (the step's output holds the transcript so far)",
                retryable=False,
            )
        used = self.usage.get("totalTokens", 0)
        if self.max_tokens is not None and used >= self.max_tokens:
            raise AgentFailure(
                f"LLM agent {name!r} used {used} tokens, reaching its maxTotalTokens of "
                f"{self.max_tokens} before the model answered (the step's output holds the "
                "transcript so far)",
                retryable=False,
            )

    # --- tools -------------------------------------------------------------------------

    async def _tools(self) -> dict[str, Tool]:
        calls = self.ctx.calls
        if calls is None:
            raise AgentFailure(
                "LLM agents with tools run only inside an execution's AGENT step",
                retryable=False,
            )
        tools: dict[str, Tool] = {}
        for index, item in enumerate(self.config.get("tools") or []):
            if "mcp" in item:
                for tool in await self._mcp_tools(index, item):
                    self._add(tools, index, tool)
                continue
            try:
                agent = await calls.find(item.get("agentId"))
            except AgentFailure as error:
                raise AgentFailure(f"tools.{index}: {error.message}", retryable=False) from None
            name = item.get("name") or tool_name(agent.name)
            description = (
                item.get("description")
                or agent.description
                or f"Runs the {agent.type} agent {agent.name!r}."
            )
            parameters = item.get("parameters") or self._declared(agent)
            approval = item.get("requiresApproval") is True
            self._add(tools, index, Tool(ToolSpec(name, description, parameters), agent, approval))
        return tools

    @staticmethod
    def _add(tools: dict[str, Tool], index: int, tool: Tool) -> None:
        name = tool.spec.name
        if name in tools:
            raise AgentFailure(
                f"tools.{index}: another tool is already named {name!r} (set a name in the "
                "agent's config.tools, or leave one MCP tool out of its allowlist)",
                retryable=False,
            )
        tools[name] = tool

    async def _mcp_tools(self, index: int, item: JsonObject) -> list[Tool]:
        """The tools an MCP server offers (those its allowlist names, when it has one)."""
        server = item["mcp"]
        if self.mcp is None:
            raise AgentFailure(
                f"tools.{index}: MCP tools need the mcp extra on this worker "
                "(pip install 'turbocat[mcp]')",
                retryable=False,
            )
        url, headers = server["url"], server.get("headers") or {}
        try:
            offered = await self.mcp.list_tools(url, headers)
        except AgentFailure as error:
            raise AgentFailure(
                f"tools.{index}: {error.message}", kind=error.kind, retryable=error.retryable
            ) from None
        allowed = server.get("tools")
        if allowed is not None:
            missing = sorted(set(allowed) - {spec.name for spec in offered})
            if missing:
                raise AgentFailure(
                    f"tools.{index}: the MCP server offers no tool named "
                    + ", ".join(map(repr, missing)),
                    retryable=False,
                )
        approval = item.get("requiresApproval") is True
        return [
            Tool(
                ToolSpec(tool_name(spec.name), spec.description, self._schema(spec.parameters)),
                None,
                approval,
                McpTarget(url, headers, spec.name),
            )
            for spec in offered
            if allowed is None or spec.name in allowed
        ]

    def _schema(self, schema: Mapping[str, Any]) -> JsonObject:
        if not schema or schema.get("type", "object") != "object":
            return ANY_OBJECT
        return {"type": "object", **schema}

    def _declared(self, agent: Agent) -> JsonObject:
        """The agent's ``parameters`` when they are an object's JSON Schema, else any object."""
        schema = agent.parameters
        if not schema or schema.get("type", "object") != "object":
            return ANY_OBJECT
        if self.schemas is not None and self.schemas.schema_problems(schema):
            return ANY_OBJECT
        return {"type": "object", **schema}

    async def _answer(self, calls: list[JsonObject]) -> None:
        """Run the calls without a journaled result yet, each result journaled as it comes;
        calls waiting for an approval are announced, then the attempt waits for them."""
        while True:
            answered = set()
            for message in reversed(self.messages):  # this turn's results (ids may repeat)
                if message.get("role") != "tool":
                    break
                answered.add(message.get("toolCallId"))
            runnable: list[JsonObject] = []
            waiting: list[JsonObject] = []
            for call in calls:
                if call["id"] in answered:
                    continue
                decision = self._approval(call)
                if decision is not None and decision["status"] == PENDING:
                    waiting.append(decision)
                else:
                    runnable.append(call)
            await self._run_calls(runnable)
            if not waiting:
                return
            await self._wait_for(waiting)

    def _approval(self, call: JsonObject) -> JsonObject | None:
        """The approval a call needs (recorded PENDING the first time), or ``None``."""
        tool = self.tools.get(call["name"])
        if tool is None or not tool.approval:
            return None
        arguments, problem = self._arguments(tool, call)
        if problem is not None:  # answered with the error, nothing to approve
            return None
        decision = self.approvals.get(call["id"])
        if decision is None:
            decision = self.approvals[call["id"]] = {
                "callId": call["id"],
                "tool": call["name"],
                "arguments": arguments,
                "turn": len(self.turns),
                "status": PENDING,
            }
        return decision

    async def _wait_for(self, waiting: list[JsonObject]) -> None:
        suspend = self.ctx.suspend
        if suspend is None:
            raise AgentFailure(
                "tools that require approval run only inside an execution's AGENT step",
                retryable=False,
            )
        ids = ", ".join(f"{item['tool']} ({item['callId']})" for item in waiting)
        text = (
            f"turn {len(self.turns)}: waiting for approval of {ids}: POST "
            f"/api/v1/executions/{self.ctx.execution_id}/approvals/<callId>"
        )
        async with self._lock:
            await self._save((LogLevel.INFO, text, {"approvals": list(waiting)}))
        self._take_decisions(await suspend())

    async def _run_calls(self, calls: list[JsonObject]) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(call: JsonObject) -> None:
            async with gate:
                content, failed = await self._result(call)
            message: JsonObject = {
                "role": "tool",
                "toolCallId": call["id"],
                "name": call["name"],
                "content": content,
                "isError": failed,
            }
            async with self._lock:
                self.messages.append(message)
                await self._save(None)

        async with asyncio.TaskGroup() as group:
            for call in calls:
                group.create_task(one(call))

    def _arguments(self, tool: Tool, call: JsonObject) -> tuple[JsonObject, str | None]:
        """The call's arguments, or why they are refused (not JSON, not an object, not
        valid against the tool's schema)."""
        try:
            arguments = json.loads(call["arguments"] or "{}")
        except ValueError as error:
            return {}, f"error: the arguments are not valid JSON ({error})"
        if not isinstance(arguments, dict):
            return {}, "error: the arguments must be a JSON object"
        if self.schemas is not None:
            problems = self.schemas.problems(tool.spec.parameters, arguments)
            if problems:
                return arguments, "error: invalid arguments: " + "; ".join(problems)
        return arguments, None

    async def _result(self, call: JsonObject) -> tuple[str, bool]:
        """The text sent back for one call, and whether it is an error (an unknown tool,
        arguments that are not JSON or fail the schema, a rejected call, a failed tool)."""
        tool = self.tools.get(call["name"])
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return f"error: there is no tool named {call['name']!r} (the tools: {known})", True
        arguments, problem = self._arguments(tool, call)
        if problem is not None:
            return problem, True
        decision = self.approvals.get(call["id"])
        if decision is not None and decision.get("status") == REJECTED:
            comment = decision.get("comment")
            return "rejected: the user did not approve this call" + (
                f": {comment}" if comment else ""
            ), True
        try:
            if tool.mcp is not None:
                assert self.mcp is not None  # _mcp_tools checked it
                target = tool.mcp
                return await self.mcp.call_tool(target.url, target.headers, target.name, arguments)
            assert self.ctx.calls is not None  # _tools checked it
            assert tool.agent is not None
            output = await self.ctx.calls.run(tool.agent, arguments)
        except AgentFailure as error:
            return f"error: the tool failed: {error.message}", True
        return _COMPACT.encode(output), False

    # --- the answer --------------------------------------------------------------------

    async def _final(self, last: JsonObject) -> JsonObject | None:
        """The step's output; or ``None`` after asking once more for an answer that failed
        the JSON checks (a second failure fails the step)."""
        text: str = last.get("content") or ""
        result: JsonObject = {"text": text}
        if self.answer.json:
            problems, value = self._check_json(text)
            if problems:
                if any(message.get("repair") for message in self.messages):
                    raise AgentFailure(
                        f"LLM agent {self.agent.name!r}: the answer is still not valid after "
                        f"asking again: {'; '.join(problems)}",
                        retryable=False,
                    )
                self.messages.append(
                    {
                        "role": "user",
                        "repair": True,
                        "content": "Your answer is not valid: "
                        + "; ".join(problems)
                        + ". Answer again with the corrected JSON only.",
                    }
                )
                async with self._lock:
                    await self._save(None)
                return None
            result["json"] = value
        turn = self.turns[-1] if self.turns else {}
        result.update(
            model=turn.get("model", self.request.model),
            finishReason=turn.get("finishReason"),
            usage=dict(self.usage),
            turns=list(self.turns),
            transcript=list(self.messages),
        )
        if self.approvals:
            result["approvals"] = list(self.approvals.values())
        return result

    def _check_json(self, text: str) -> tuple[list[str], Any]:
        try:
            value = self.parse_json(text)
        except ValueError as error:
            return [f"it is not JSON ({error})"], None
        schema = self.answer.schema
        if schema is None:
            return [], value
        if self.schemas is None:
            raise AgentFailure(
                "outputSchema cannot be checked here: no JSON Schema validator is configured",
                retryable=False,
            )
        return self.schemas.problems(schema, value), value


def _usage(response: LlmResponse) -> dict[str, int]:
    total = response.total_tokens
    if total is None:
        total = response.prompt_tokens + response.completion_tokens
    return {
        "promptTokens": response.prompt_tokens,
        "completionTokens": response.completion_tokens,
        "totalTokens": total,
    }
