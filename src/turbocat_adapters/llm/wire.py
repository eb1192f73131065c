"""The providers' wire formats: OpenAI Chat Completions and Anthropic Messages, as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from turbocat_core.agents.failures import AgentFailure
from turbocat_core.ports.agents import LlmRequest, LlmResponse

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
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    _put(body, "temperature", request.temperature)
    _put(body, "max_tokens", request.max_tokens)
    _put(body, "top_p", request.top_p)
    _put(body, "frequency_penalty", request.frequency_penalty)
    _put(body, "presence_penalty", request.presence_penalty)
    if request.stop:
        body["stop"] = list(request.stop)
    if request.json_response:
        body["response_format"] = {"type": "json_object"}
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
        "messages": [{"role": "user", "content": request.prompt}],
    }
    if request.system_prompt:
        body["system"] = request.system_prompt
    _put(body, "temperature", request.temperature)
    _put(body, "top_p", request.top_p)
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    return Call("Anthropic API", endpoint(base_url, "/v1", "/messages"), headers, body)


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
    )


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
