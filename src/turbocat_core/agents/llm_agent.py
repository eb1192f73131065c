"""The LLM agent's executor: a prompt and its options to a provider, the answer as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from turbocat_core.agents.configs import check_llm_config
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import JsonObject
from turbocat_core.engine.refs import REFERENCE
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports.agents import LlmClient, LlmRequest, LlmResponse

KEY_VARIABLES: Final[Mapping[str, str]] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openai-compatible": "OPENAI_API_KEY",
}
"""The variable holding each provider's key, in the run's env or the server's environment."""
KEY_OPTIONAL: Final = frozenset({"openai-compatible"})
"""Providers that may run without a key (a local Ollama, vLLM or LM Studio)."""
INPUT_OVERRIDES: Final = ("prompt", "systemPrompt")
"""Step inputs that replace the config's value of the same name; other inputs are unused."""
JSON_INSTRUCTION: Final = "Respond with valid JSON only."
SNIPPET: Final = 200
TRUNCATED: Final = frozenset({"length", "max_tokens"})
"""Finish reasons (OpenAI's, Anthropic's) of an answer cut off at ``maxTokens``."""

_FENCE: Final = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n?(.*?)\r?\n?[ \t]*```", re.DOTALL)
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _as_text(value: Any) -> Any:
    """A prompt that one whole reference filled with a non-string becomes compact JSON."""
    if value is None or isinstance(value, str):
        return value
    try:
        return _COMPACT.encode(value)
    except (TypeError, ValueError):
        return str(value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_answer(text: str) -> Any:
    """The JSON value in a model's answer: the whole text, or the first fenced block in it
    (```json ... ```). Raises ``ValueError`` saying why it is not JSON."""
    stripped = text.strip()
    try:
        return json.loads(stripped, parse_constant=_refuse_constant)
    except ValueError as error:
        fenced = _FENCE.search(stripped)
        if fenced is None:
            raise
        try:
            return json.loads(fenced.group(1).strip(), parse_constant=_refuse_constant)
        except ValueError:
            raise error from None


class LlmAgent:
    """Runs LLM agents through an ``LlmClient``.

    The prompt is the config's ``prompt`` with its references already resolved by the engine
    (``{{inputs.x}}``, ``{{step.output.y}}``, ``{{env.NAME}}``); a step input ``prompt`` or
    ``systemPrompt`` (a string, or any JSON value, sent as compact JSON) replaces the config's
    value, so one agent serves steps that each pass their own prompt. Other step inputs are
    not sent to the model: reference what the prompt needs.

    The API key is the config's ``apiKey`` (a ``{{env.NAME}}`` reference), else the run's
    ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` (deployment variables, in ``ctx.env``: the
    engine gives them only to the deployment owner's own agents, another user's agent gets
    none), else the server's own, which goes only to the operator's endpoints: never to a
    config's ``baseUrl``.
    """

    def __init__(self, client: LlmClient, server_env: Mapping[str, str]) -> None:
        self.client = client
        # Only the keys this agent may use are kept, not the whole process environment.
        self._server_keys = {
            name: server_env[name]
            for name in set(KEY_VARIABLES.values())
            if server_env.get(name, "").strip()
        }

    def check_config(self, config: JsonObject) -> None:
        check_llm_config(config)

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any:
        request = self.request(agent, config, inputs, ctx.env)
        response = await self.client.complete(request)
        return self.output(agent, response, json_answer=request.json_response)

    def request(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, env: Mapping[str, str]
    ) -> LlmRequest:
        """The request a run sends: resolved config, step overrides, key; ``AgentFailure``
        (not retryable) when the config is unusable once resolved."""
        merged = dict(config)
        for name in INPUT_OVERRIDES:
            if inputs.get(name) is not None:
                merged[name] = inputs[name]
        for name in INPUT_OVERRIDES:
            if name in merged:
                merged[name] = _as_text(merged[name])
        try:
            check_llm_config(merged, allow_refs=False)
        except ValidationFailed as error:
            raise AgentFailure(f"LLM agent {agent.name!r}: {error}", retryable=False) from None
        provider: str = merged["provider"]
        json_response = merged.get("responseFormat") == "json"
        system: str | None = merged.get("systemPrompt") or None
        prompt: str = merged["prompt"]
        if json_response and "json" not in f"{system or ''}\n{prompt}".lower():
            # OpenAI's JSON mode refuses prompts that never mention JSON; others need telling.
            system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
        return LlmRequest(
            provider=provider,
            model=merged["model"],
            prompt=prompt,
            system_prompt=system,
            base_url=merged.get("baseUrl"),
            api_key=self._api_key(agent, provider, merged, env),
            temperature=merged.get("temperature"),
            max_tokens=merged.get("maxTokens"),
            top_p=merged.get("topP"),
            frequency_penalty=merged.get("frequencyPenalty"),
            presence_penalty=merged.get("presencePenalty"),
            stop=tuple(merged.get("stopSequences") or ()),
            json_response=json_response,
        )

    def _api_key(
        self, agent: Agent, provider: str, config: JsonObject, env: Mapping[str, str]
    ) -> str | None:
        configured = config.get("apiKey")
        if isinstance(configured, str) and configured.strip():
            unresolved = REFERENCE.search(configured)
            if unresolved is not None:
                raise AgentFailure(
                    f"LLM agent {agent.name!r}: apiKey {{{{{unresolved.group(1)}}}}} is not set "
                    "in this run's environment (add it to the deployment's variables)",
                    retryable=False,
                )
            return configured.strip()
        variable = KEY_VARIABLES[provider]
        if env.get(variable, "").strip():
            return env[variable].strip()
        if "baseUrl" not in config and variable in self._server_keys:
            return self._server_keys[variable].strip()
        if provider in KEY_OPTIONAL:
            return None
        where = (
            "the deployment's variables (the server's own key is not sent to a custom baseUrl)"
            if "baseUrl" in config
            else "the deployment's variables or the server's environment"
        )
        raise AgentFailure(
            f"LLM agent {agent.name!r}: no API key for {provider}: set {variable} in {where}, "
            "or apiKey: {{env.NAME}} in the agent's config",
            retryable=False,
        )

    def output(self, agent: Agent, response: LlmResponse, *, json_answer: bool) -> JsonObject:
        """``{text, json?, model, finishReason, usage}``; with a JSON answer expected, a text
        that is not JSON fails the attempt (a retry may get a better answer)."""
        total = response.total_tokens
        if total is None:
            total = response.prompt_tokens + response.completion_tokens
        result: JsonObject = {"text": response.text}
        if json_answer:
            try:
                result["json"] = parse_json_answer(response.text)
            except ValueError as error:
                truncated = response.finish_reason in TRUNCATED
                cut = " (the answer hit maxTokens)" if truncated else ""
                snippet = response.text[:SNIPPET] + ("…" if len(response.text) > SNIPPET else "")
                raise AgentFailure(
                    f"LLM agent {agent.name!r}: the answer is not valid JSON{cut}: {error}; "
                    f"it begins {snippet!r}"
                ) from None
        result.update(
            model=response.model,
            finishReason=response.finish_reason,
            usage={
                "promptTokens": response.prompt_tokens,
                "completionTokens": response.completion_tokens,
                "totalTokens": total,
            },
        )
        return result
