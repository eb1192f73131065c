"""Fake OpenAI and Anthropic servers on 127.0.0.1, answering in each provider's exact format.

Each runs a stdlib HTTP server in a daemon thread, so it serves async tests, sync tests and
other processes (a `turbocat serve` pointed at it with `TURBOCAT_OPENAI_BASE_URL`) alike::

    with FakeOpenAI() as openai:          # or FakeOpenAI().start() ... .stop()
        openai.script(openai.error(429, "slow down", headers={"Retry-After": "2"}))
        ... call http://127.0.0.1:<port> (``openai.url``) ...
        assert openai.requests[0].path == "/v1/chat/completions"

Unscripted calls get a normal completion of ``reply_text``. A wrong or missing key gets the
provider's own 401 (``api_key=None`` accepts anything), an unknown path its 404.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"


@dataclass(frozen=True)
class Received:
    """One request the fake got: ``headers`` keys are lower case, ``json`` the decoded body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Scripted:
    """One answer: status, a JSON body (or raw bytes), extra headers, a delay before it."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: threading.Event | None = None
    """Answer only once this is set (a call in flight, for as long as a test needs)."""

    def held(self, until: threading.Event) -> Scripted:
        return Scripted(self.status, self.body, self.headers, self.delay, until)


class FakeLlmServer:
    """The common part: a thread, a script of answers, the requests received."""

    path: ClassVar[str]
    name: ClassVar[str]

    def __init__(self, *, api_key: str | None = "test-key", reply_text: str = "Hello!") -> None:
        self.api_key = api_key
        self.reply_text = reply_text
        self.requests: list[Received] = []
        self.streamed = 0
        """Answers sent in the streaming format."""
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._next_call = 1
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> FakeLlmServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        host, port = server.server_address[:2]
        self._url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL (no path), as ``TURBOCAT_*_BASE_URL`` takes it."""
        assert self._url is not None, "start the fake first"
        return self._url

    # --- scripting -----------------------------------------------------------------------

    def script(self, *answers: Scripted) -> None:
        """The next answers, in order; after them, normal completions again."""
        with self._lock:
            self._script.extend(answers)

    @property
    def last(self) -> Received:
        return self.requests[-1]

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Until ``count`` requests have arrived (``AssertionError`` after ``timeout``)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} request(s) in {timeout} s")

    # --- serving -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        received = Received(
            method=handler.command,
            path=handler.path,
            headers={key.lower(): value for key, value in handler.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(received)
            scripted = self._script.popleft() if self._script else None
            self._arrived.notify_all()
        answer = self._refusal(received) or scripted or self._default(received)
        if answer.delay:
            time.sleep(answer.delay)
        if answer.hold is not None:
            answer.hold.wait(600)
        kind = "application/json"
        streamed = received.method == "POST" and _asks_to_stream(received)
        if streamed and answer.status == 200 and isinstance(answer.body, dict):
            payload, kind = self._stream(answer.body).encode(), "text/event-stream"
            self.streamed += 1
        else:
            payload = (
                answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            )
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(payload)))
            for key, value in answer.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            pass

    def _refusal(self, received: Received) -> Scripted | None:
        raise NotImplementedError

    def _stream(self, body: dict[str, Any]) -> str:
        """The answer ``body`` as the provider streams it (``"stream": true``)."""
        raise NotImplementedError

    def _default(self, received: Received) -> Scripted:
        raise NotImplementedError


class FakeOpenAI(FakeLlmServer):
    """``POST /v1/chat/completions`` with ``Authorization: Bearer <key>``."""

    path = OPENAI_PATH
    name = "openai"

    @staticmethod
    def completion(
        text: str | None = "Hello!",
        *,
        model: str = "gpt-4o-mini-2024-07-18",
        finish_reason: str = "stop",
        prompt_tokens: int = 12,
        completion_tokens: int = 5,
    ) -> dict[str, Any]:
        """A Chat Completion object as the API returns it."""
        return {
            "id": "chatcmpl-fake123",
            "object": "chat.completion",
            "created": 1_767_225_600,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }

    def ok(self, text: str | None = "Hello!", **fields: Any) -> Scripted:
        return Scripted(200, self.completion(text, **fields))

    def tool_calls(
        self, *calls: tuple[str, Any], text: str | None = None, **fields: Any
    ) -> Scripted:
        """An assistant message asking for tools, as Chat Completions sends it: each call
        ``(name, arguments)``, the arguments a JSON string (a ``str`` is sent as written)."""
        body = self.completion(text, finish_reason="tool_calls", **fields)
        with self._lock:
            first = self._next_call
            self._next_call += len(calls)
        body["choices"][0]["message"]["tool_calls"] = [
            {
                "id": f"call_{first + index:04d}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
            for index, (name, arguments) in enumerate(calls)
        ]
        return Scripted(200, body)

    @staticmethod
    def error(
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Scripted:
        """An error as OpenAI sends it: ``{"error": {"message", "type", "param", "code"}}``."""
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return Scripted(status, body, headers or {})

    def _refusal(self, received: Received) -> Scripted | None:
        if received.method != "POST" or received.path != self.path:
            return self.error(404, f"Invalid URL ({received.method} {received.path})")
        if self.api_key is not None:
            auth = received.headers.get("authorization", "")
            if auth != f"Bearer {self.api_key}":
                shown = auth.removeprefix("Bearer ")
                return self.error(
                    401,
                    f"Incorrect API key provided: {shown[:3]}****{shown[-4:]}. You can find "
                    "your API key at https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                )
        return None

    def _default(self, received: Received) -> Scripted:
        return self.ok(self.reply_text, model=received.json.get("model", "gpt-4o-mini"))

    def _stream(self, body: dict[str, Any]) -> str:
        """``chat.completion.chunk`` events: the role, the content in pieces, each tool call
        (id and name, then its arguments in pieces), the finish reason, the usage (as with
        ``stream_options.include_usage``), then ``[DONE]``."""
        head = {
            "id": body["id"],
            "object": "chat.completion.chunk",
            "created": body["created"],
            "model": body["model"],
            "system_fingerprint": body.get("system_fingerprint"),
        }
        choice = body["choices"][0]
        message = choice["message"]

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            step = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**head, "choices": [step]}

        chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
        chunks += [chunk({"content": piece}) for piece in _pieces(message.get("content") or "")]
        for index, call in enumerate(message.get("tool_calls") or []):
            function = call["function"]
            first = {"index": index, "id": call["id"], "type": "function"}
            chunks.append(
                chunk(
                    {
                        "tool_calls": [
                            {**first, "function": {"name": function["name"], "arguments": ""}}
                        ]
                    }
                )
            )
            chunks += [
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in _pieces(function["arguments"], 7)
            ]
        chunks.append(chunk({}, choice["finish_reason"]))
        chunks.append({**head, "choices": [], "usage": body["usage"]})
        return "".join(f"data: {json.dumps(item)}\n\n" for item in chunks) + "data: [DONE]\n\n"


class FakeAnthropic(FakeLlmServer):
    """``POST /v1/messages`` with ``x-api-key`` and ``anthropic-version``."""

    path = ANTHROPIC_PATH
    name = "anthropic"

    @staticmethod
    def message(
        text: str = "Hello!",
        *,
        model: str = "claude-3-5-haiku-20241022",
        stop_reason: str = "end_turn",
        input_tokens: int = 10,
        output_tokens: int = 4,
    ) -> dict[str, Any]:
        """A Message object as the API returns it (one text block)."""
        return {
            "id": "msg_fake123",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }

    def ok(self, text: str = "Hello!", **fields: Any) -> Scripted:
        return Scripted(200, self.message(text, **fields))

    def tool_use(self, *calls: tuple[str, Any], text: str | None = None, **fields: Any) -> Scripted:
        """A Message asking for tools: an optional ``text`` block, then one ``tool_use``
        block per ``(name, input)``, ``stop_reason: tool_use``."""
        body = self.message(text or "", stop_reason="tool_use", **fields)
        with self._lock:
            first = self._next_call
            self._next_call += len(calls)
        body["content"] = ([{"type": "text", "text": text}] if text else []) + [
            {"type": "tool_use", "id": f"toolu_{first + index:04d}", "name": name, "input": args}
            for index, (name, args) in enumerate(calls)
        ]
        return Scripted(200, body)

    @staticmethod
    def error(
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        *,
        headers: dict[str, str] | None = None,
    ) -> Scripted:
        """An error as Anthropic sends it: ``{"type": "error", "error": {"type", "message"}}``."""
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return Scripted(status, body, headers or {})

    def _refusal(self, received: Received) -> Scripted | None:
        if received.method != "POST" or received.path != self.path:
            return self.error(404, "Not found", "not_found_error")
        if self.api_key is not None and received.headers.get("x-api-key") != self.api_key:
            return self.error(401, "invalid x-api-key", "authentication_error")
        if "anthropic-version" not in received.headers:
            return self.error(400, "anthropic-version: header is required")
        return None

    def _default(self, received: Received) -> Scripted:
        return self.ok(self.reply_text, model=received.json.get("model", "claude"))

    def _stream(self, body: dict[str, Any]) -> str:
        """Messages stream events: ``message_start``, a ``ping``, per block
        ``content_block_start`` / ``_delta`` (``text_delta``, ``input_json_delta``) /
        ``_stop``, ``message_delta`` (stop reason, output tokens), ``message_stop``."""
        usage = body["usage"]
        start = {
            **body,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
        }
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start}),
            ("ping", {"type": "ping"}),
        ]
        for index, block in enumerate(body["content"]):
            if block["type"] == "text":
                opened = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
            else:
                opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": p}
                    for p in ["", *_pieces(json.dumps(block["input"]), 7)]
                ]
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opened},
                )
            )
            events += [
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
                for d in deltas
            ]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        stop = {"stop_reason": body["stop_reason"], "stop_sequence": None}
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": stop,
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def _asks_to_stream(received: Received) -> bool:
    try:
        return bool(received.json.get("stream"))
    except ValueError:
        return False
