"""An MCP server built with the official SDK (FastMCP, streamable HTTP) on 127.0.0.1, run by
uvicorn in a daemon thread; ``calls`` counts the tool calls it served."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import uvicorn
from mcp.server.fastmcp import FastMCP

from tests.cli.test_serve import free_port


class McpCalculator:
    """Tools ``add(a, b)``, ``divide(a, b)`` (an error for b = 0) and ``secret()``."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []
        port = free_port()
        server = FastMCP("calculator", host="127.0.0.1", port=port, stateless_http=True)
        counter = self

        @server.tool(description="Adds two whole numbers")
        def add(a: int, b: int) -> int:
            counter.calls["add"] += 1
            return a + b

        @server.tool(description="Divides a by b")
        def divide(a: float, b: float) -> float:
            counter.calls["divide"] += 1
            if b == 0:
                raise ValueError("division by zero")
            return a / b

        @server.tool(description="Not for the model")
        def secret() -> str:
            counter.calls["secret"] += 1
            return "hidden"

        app = server.streamable_http_app()

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                counter.headers.append(
                    {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
                )
            await app(scope, receive, send)

        self._server = uvicorn.Server(
            uvicorn.Config(recording, host="127.0.0.1", port=port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}/mcp"

    def __enter__(self) -> McpCalculator:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError("the MCP server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
