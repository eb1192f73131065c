"""``McpClient`` with the official ``mcp`` SDK (the ``mcp`` extra): streamable HTTP, every
request through the SSRF guard (the SDK builds its httpx client with our transport)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from turbocat_adapters.http.transport import GuardedNetwork
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.ports.agents import ToolSpec

DEFAULT_TIMEOUT_SECONDS: Final = 30.0


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _first_failure(error: BaseException) -> AgentFailure | None:
    """The guard's (or another) ``AgentFailure`` inside the SDK's task-group errors."""
    if isinstance(error, AgentFailure):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _first_failure(inner)
            if found is not None:
                return found
    cause = error.__cause__ or error.__context__
    return _first_failure(cause) if cause is not None and cause is not error else None


class SdkMcpClient:
    """One MCP session per call (tools are listed once per conversation attempt and
    called once per tool call): nothing is held between turns, so a resumed run needs none."""

    def __init__(self, network: GuardedNetwork, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.network = network
        self.timeout = timeout

    def _http(self, headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(self.timeout),
            transport=self.network.transport(),
            follow_redirects=False,
            trust_env=False,
        )

    @contextlib.asynccontextmanager
    async def _session(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[ClientSession]:
        try:
            async with (
                self._http(dict(headers)) as http,
                streamable_http_client(url, http_client=http) as (read, write, _),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                yield session
        except AgentFailure:
            raise
        except Exception as error:
            found = _first_failure(error)
            if found is not None:
                raise found from None
            reason = str(error) or type(error).__name__
            raise AgentFailure(
                f"MCP server at {_origin(url)}: {reason}", kind=FailureKind.NETWORK
            ) from None

    async def list_tools(self, url: str, headers: Mapping[str, str]) -> list[ToolSpec]:
        async with self._session(url, headers) as session:
            listed = await session.list_tools()
        return [
            ToolSpec(tool.name, tool.description or "", dict(tool.inputSchema))
            for tool in listed.tools
        ]

    async def call_tool(
        self, url: str, headers: Mapping[str, str], name: str, arguments: Mapping[str, Any]
    ) -> tuple[str, bool]:
        async with self._session(url, headers) as session:
            result = await session.call_tool(name, dict(arguments))
        texts = [block.text for block in result.content if isinstance(block, TextContent)]
        if texts:
            return "\n".join(texts), result.isError
        if result.structuredContent is not None:
            return json.dumps(result.structuredContent, separators=(",", ":")), result.isError
        blocks = [block.model_dump(mode="json") for block in result.content]
        return json.dumps(blocks, separators=(",", ":")), result.isError
