"""The providers' wire formats: OpenAI Chat Completions and Anthropic Messages, as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from turbocat_core.agents.failures import AgentFailure
from turbocat_core.ports.agents import LlmRequest, LlmResponse, ToolCall

ANTHROPIC_VERSION: Final = "2023-06-01"
ANTHROPIC_DEFAULT_MAX_TOKENS: Final = 1024
"""Anthropic requires ``max_tokens``; this is sent when the config sets none."""


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to a provider: where, which headers, which JSON body."""

    label: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


def endpoint(base: str, default_path: str, path: str) -> str:
    """``base`` + ``path``; a base without a path gets ``default_path`` (``/v1``) first, and a
    base already ending in ``path`` is taken as it is. So ``http://host:11434``,
    ``http://host:11434/v1`` and ``http://host:11434/v1/chat/completions`` all work."""
    base = base.rstrip("/")
    if base.endswith(path):
        return base
    if not urlsplit(base).path:
        base += default_path
    return base + path


def openai_call(request: LlmRequest, base_url: str) -> Call:
    """A Chat Completions request (OpenAI, or any server speaking its format)."""
    compatible = request.provider == "openai-compatible"
    label = f"OpenAI-compatible API at {_origin(base_url)}" if compatible else "OpenAI API"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if request.api_key:
        headers["Authorization"] = f"Bearer {request.api_key}"
    messages = []
    if request.system_prompt:
        messages.append({"role": "system", "content": request.system_prompt})
    messages.append({"role": "user", "content": request.prompt})
    messages.extend(_openai_message(message) for message in request.messages)
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": dict(tool.parameters),
                },
            }
            for tool in request.tools
        ]
    _put(body, "temperature", request.temperature)
    _put(body, "max_tokens", request.max_tokens)
    _put(body, "top_p", request.top_p)
    _put(body, "frequency_penalty", request.frequency_penalty)
    _put(body, "presence_penalty", request.presence_penalty)
    if request.stop:
        body["stop"] = list(request.stop)
    if request.json_response:
        body["response_format"] = {"type": "json_object"}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return Call(label, endpoint(base_url, "/v1", "/chat/completions"), headers, body)


def anthropic_call(request: LlmRequest, base_url: str) -> Call:
    """A Messages request. Anthropic has no penalties (the config check refuses non-zero
    ones, zero is dropped here) and no JSON mode (the prompt asks for JSON instead)."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "anthropic-version": ANTHROPIC_VERSION,
    }
    if request.api_key:
        headers["x-api-key"] = request.api_key
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": request.prompt}, *_anthropic_messages(request)],
    }
    if request.tools:
        body["tools"] = [
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": dict(tool.parameters),
            }
            for tool in request.tools
        ]
    if request.system_prompt:
        body["system"] = request.system_prompt
    _put(body, "temperature", request.temperature)
    _put(body, "top_p", request.top_p)
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.stream:
        body["stream"] = True
    return Call("Anthropic API", endpoint(base_url, "/v1", "/messages"), headers, body)


def _openai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A neutral message (``LlmRequest.messages``) as Chat Completions writes it."""
    role = message["role"]
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message["toolCallId"],
            "content": message["content"],
        }
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.get("content") or None}
        calls = message.get("toolCalls") or []
        if calls:
            out["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
                for call in calls
            ]
        return out
    return {"role": role, "content": message["content"]}


def _anthropic_messages(request: LlmRequest) -> list[dict[str, Any]]:
    """Neutral messages as Messages writes them: an assistant turn's ``tool_use`` blocks,
    then one user turn holding every ``tool_result`` (consecutive results are merged, as
    the API requires alternating roles)."""
    out: list[dict[str, Any]] = []
    for message in request.messages:
        role = message["role"]
        if role == "assistant":
            blocks: list[dict[str, Any]] = []
            if message.get("content"):
                blocks.append({"type": "text", "text": message["content"]})
            for call in message.get("toolCalls") or []:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["name"],
                        "input": _object_or_empty(call["arguments"]),
                    }
                )
            out.append({"role": "assistant", "content": blocks})
            continue
        if role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message["toolCallId"],
                "content": message["content"],
            }
            if message.get("isError"):
                block["is_error"] = True
            last = out[-1] if out else None
            if last is not None and last["role"] == "user" and isinstance(last["content"], list):
                last["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        out.append({"role": "user", "content": message["content"]})
    return out


def _object_or_empty(arguments: str) -> Any:
    """Arguments the model wrote, as ``tool_use.input`` needs them (an object); text that
    is not an object (the call was answered with an error) becomes ``{}``."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _bad(label: str, what: str) -> AgentFailure:
    return AgentFailure(f"{label} sent an answer this client cannot read: {what}")


def _count(usage: Any, key: str) -> int:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_openai(label: str, data: Any, requested_model: str) -> LlmResponse:
    """``choices[0].message.content``, ``finish_reason``, ``usage``, ``model``."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _bad(label, "no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise _bad(label, "choices[0] has no message")
    content = message.get("content")
    if content is None and isinstance(message.get("refusal"), str):
        raise AgentFailure(f"the model refused: {message['refusal']}", retryable=False)
    if isinstance(content, list):  # some compatible servers send content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if content is not None and not isinstance(content, str):
        raise _bad(label, "choices[0].message.content is not text")
    usage = data.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    model = data.get("model")
    return LlmResponse(
        tool_calls=_openai_tool_calls(label, message.get("tool_calls")),
        text=content or "",
        model=model if isinstance(model, str) and model else requested_model,
        finish_reason=_text_or_none(choice.get("finish_reason")),
        prompt_tokens=_count(usage, "prompt_tokens"),
        completion_tokens=_count(usage, "completion_tokens"),
        total_tokens=total if isinstance(total, int) and not isinstance(total, bool) else None,
    )


def parse_anthropic(label: str, data: Any, requested_model: str) -> LlmResponse:
    """The ``text`` blocks of ``content`` joined, ``stop_reason``, ``usage``, ``model``."""
    blocks = data.get("content") if isinstance(data, dict) else None
    if not isinstance(blocks, list):
        raise _bad(label, "no content")
    text = "".join(
        block["text"]
        for block in blocks
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    )
    calls = tuple(
        ToolCall(block["id"], block["name"], json.dumps(block.get("input") or {}))
        for block in blocks
        if isinstance(block, dict)
        and block.get("type") == "tool_use"
        and isinstance(block.get("id"), str)
        and isinstance(block.get("name"), str)
    )
    usage = data.get("usage")
    # Cached prompt tokens are counted apart from input_tokens; all of them are the prompt.
    prompt_tokens = sum(
        _count(usage, key)
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    model = data.get("model")
    return LlmResponse(
        text=text,
        model=model if isinstance(model, str) and model else requested_model,
        finish_reason=_text_or_none(data.get("stop_reason")),
        prompt_tokens=prompt_tokens,
        completion_tokens=_count(usage, "output_tokens"),
        tool_calls=calls,
    )


def _openai_tool_calls(label: str, value: Any) -> tuple[ToolCall, ...]:
    """``message.tool_calls``: ``[{"id", "type": "function", "function": {"name",
    "arguments"}}]`` (arguments are JSON text, possibly invalid: the loop answers that)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad(label, "choices[0].message.tool_calls is not a list")
    calls: list[ToolCall] = []
    for item in value:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _bad(label, "a tool call without a function name")
        arguments = function.get("arguments")
        call_id = item.get("id")
        calls.append(
            ToolCall(
                call_id if isinstance(call_id, str) and call_id else f"call_{len(calls)}",
                function["name"],
                arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
            )
        )
    return tuple(calls)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def error_message(data: Any) -> str | None:
    """The message of an error body: OpenAI ``{"error": {"message", "type"}}``, Anthropic
    ``{"type": "error", "error": {"type", "message"}}``, or a plain ``{"error": "..."}`` /
    ``{"message": "..."}`` (Ollama, vLLM, proxies)."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type") or error.get("code")
        if isinstance(message, str) and message:
            return f"{message} ({kind})" if isinstance(kind, str) and kind else message
        return None
    if isinstance(error, str) and error:
        return error
    message = data.get("message") or data.get("detail")
    return message if isinstance(message, str) and message else None
