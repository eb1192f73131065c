"""The providers' streaming wire formats: Server-Sent Events folded into the answer the same
request without ``stream`` would have got (so one parser reads both), text deltas told as
they come.

OpenAI (and compatible servers): ``data: <chat.completion.chunk>`` lines, ``delta.content``
and ``delta.tool_calls`` (by ``index``: the id and name first, the arguments in pieces),
``finish_reason`` on the last choice chunk, ``usage`` on a final chunk without choices
(``stream_options.include_usage``), then ``data: [DONE]``. Anthropic: ``message_start``,
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``) /
``content_block_stop`` per block, ``message_delta`` (``stop_reason``, output tokens),
``message_stop``; ``ping`` events; an ``error`` event ends the stream with a failure.
"""

from __future__ import annotations

import json
from typing import Any

from turbocat_core.agents.failures import AgentFailure, FailureKind


class SseLines:
    """Turns lines into events: ``feed`` returns the ``data`` of an event ended by a blank
    line (several ``data:`` lines joined by newlines), else ``None``."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        if not line.strip():
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))
        return None  # event:, id:, retry: and comments carry nothing the fold needs


class OpenAIStream:
    """Folds ``chat.completion.chunk`` events into one ``chat.completion``."""

    def __init__(self) -> None:
        self.done = False
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self._finish: str | None = None
        self._usage: Any = None
        self._model: str | None = None

    def feed(self, data: str) -> str:
        """The text this event adds (possibly empty)."""
        if data.strip() == "[DONE]":
            self.done = True
            return ""
        chunk = _json(data, "OpenAI stream")
        if "error" in chunk:
            raise AgentFailure(f"the stream ended with an error: {chunk['error']}")
        self._model = chunk.get("model") or self._model
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        added = ""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                added += delta["content"]
            for piece in delta.get("tool_calls") or ():
                call = self._calls.setdefault(
                    piece.get("index", len(self._calls)),
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = piece.get("id") or call["id"]
                function = piece.get("function") or {}
                if function.get("name"):
                    call["function"]["name"] += function["name"]
                if function.get("arguments"):
                    call["function"]["arguments"] += function["arguments"]
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        self._text.append(added)
        return added

    def result(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self._text) or None}
        if self._calls:
            message["tool_calls"] = [self._calls[index] for index in sorted(self._calls)]
        return {
            "object": "chat.completion",
            "model": self._model,
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish}],
            "usage": self._usage,
        }


class AnthropicStream:
    """Folds Messages stream events into one ``message``."""

    def __init__(self) -> None:
        self.done = False
        self._message: dict[str, Any] = {"content": [], "usage": {}}
        self._json: dict[int, list[str]] = {}

    def feed(self, data: str) -> str:
        event = _json(data, "Anthropic stream")
        kind = event.get("type")
        if kind == "error":
            error = event.get("error") or {}
            overloaded = error.get("type") == "overloaded_error"
            raise AgentFailure(
                f"Anthropic API stream failed: {error.get('message') or 'no details'}",
                kind=FailureKind.HTTP_5XX if overloaded else FailureKind.ERROR,
            )
        if kind == "message_start":
            start = event.get("message") or {}
            self._message.update({k: v for k, v in start.items() if k != "content"})
            self._message.setdefault("usage", {})
        elif kind == "content_block_start":
            block = dict(event.get("content_block") or {})
            index = event.get("index", len(self._message["content"]))
            while len(self._message["content"]) <= index:
                self._message["content"].append({})
            self._message["content"][index] = block
            if block.get("type") == "tool_use":
                self._json[index] = []
        elif kind == "content_block_delta":
            return self._delta(event.get("index", 0), event.get("delta") or {})
        elif kind == "content_block_stop":
            index = event.get("index", 0)
            if index in self._json:
                text = "".join(self._json.pop(index))
                self._message["content"][index]["input"] = _json(text, "Anthropic tool input")
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            self._message.update({k: v for k, v in delta.items() if v is not None})
            self._message["usage"] = {**self._message["usage"], **(event.get("usage") or {})}
        elif kind == "message_stop":
            self.done = True
        return ""

    def _delta(self, index: int, delta: dict[str, Any]) -> str:
        blocks = self._message["content"]
        if index >= len(blocks):
            raise AgentFailure("Anthropic stream: a delta for a block that never started")
        if delta.get("type") == "text_delta":
            text = str(delta.get("text") or "")
            blocks[index]["text"] = blocks[index].get("text", "") + text
            return text
        if delta.get("type") == "input_json_delta":
            self._json.setdefault(index, []).append(str(delta.get("partial_json") or ""))
        return ""

    def result(self) -> dict[str, Any]:
        return self._message


def _json(text: str, what: str) -> Any:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise AgentFailure(f"{what}: an event that is not JSON") from None
    return value if isinstance(value, dict) else {}
