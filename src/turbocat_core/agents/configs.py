"""Agent configs per type (docs/agents.md): the shape checks run when agents are saved.

Each ``check_<type>_config`` raises ``ValidationFailed`` naming every bad field as
``config.<path>``. Shapes only: a value may still be a ``{{reference}}`` that the engine fills
in before the run (``allow_refs=True``, the default, for configs being saved); an executor
checking a config whose references are resolved passes ``allow_refs=False``. Unknown keys
are refused, so a misspelt option never passes silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit
from uuid import UUID

from turbocat_core.agents.data import validate_data_config
from turbocat_core.agents.data.checks import REQUIRED, Checks
from turbocat_core.agents.data.values import is_number, is_reference, type_name
from turbocat_core.domain.agent import AgentType
from turbocat_core.engine.refs import REFERENCE
from turbocat_core.errors import FieldError, ValidationFailed

HTTP_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
AUTH_FIELDS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "bearer": (("token",), ()),
    "basic": (("username", "password"), ()),
    "apiKey": (("key",), ("header", "in")),
}
"""Auth type -> (required fields, optional fields) besides ``type``."""
API_KEYS: Final = ("method", "url", "headers", "query", "body", "auth", "timeoutMs", "retry")
RETRY_KEYS: Final = ("count", "delayMs", "statusCodes")
MAX_API_TIMEOUT_MS: Final = 300_000
MAX_API_RETRIES: Final = 10

LLM_PROVIDERS: Final = ("openai", "anthropic", "openai-compatible")
LLM_KEYS: Final = (
    "provider",
    "baseUrl",
    "model",
    "prompt",
    "systemPrompt",
    "temperature",
    "maxTokens",
    "topP",
    "frequencyPenalty",
    "presencePenalty",
    "stopSequences",
    "responseFormat",
    "apiKey",
    "tools",
    "maxTurns",
    "maxTotalTokens",
    "toolConcurrency",
    "outputSchema",
    "stream",
)
MAX_STOP_SEQUENCES: Final = 16
TOOL_KEYS: Final = ("agentId", "name", "description", "parameters", "requiresApproval")
MCP_TOOL_KEYS: Final = ("mcp", "requiresApproval")
MCP_KEYS: Final = ("url", "headers", "tools")
TOOL_NAME: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""What OpenAI and Anthropic both accept as a tool's name."""
MAX_TOOLS: Final = 64
MAX_TURNS: Final = 100
MAX_TOOL_CONCURRENCY: Final = 16

CODE_RUNTIMES: Final = ("python", "node")
CODE_KEYS: Final = ("runtime", "code", "timeoutSeconds", "memoryMb")
MAX_CODE_BYTES: Final = 1024 * 1024
MAX_CODE_TIMEOUT_SECONDS: Final = 3600
CODE_MEMORY_MB: Final = (16, 8192)

WORKFLOW_KEYS: Final = ("workflowId",)
FUNCTION_KEYS: Final = ("function",)

SECRET_KEYS: Final = frozenset(
    {"token", "password", "key", "apikey", "api_key", "secret", "authorization", "x-api-key"}
)
MASK: Final = "********"


class _Shape(Checks):
    """``Checks`` (the DATA agent's collector) with the value kinds these configs need."""

    def nested(self, key: str | int, value: Any) -> _Shape | None:
        if not isinstance(value, dict):
            self.add(key, f"expected an object, got {type_name(value)}")
            return None
        return _Shape(value, self.path(key), self.problems, allow_refs=self.allow_refs)

    def is_ref(self, value: Any) -> bool:
        """Whether ``value`` is a reference the engine fills in (only before a run)."""
        return self.allow_refs and is_reference(value)

    def text(self, key: str, *, required: bool = False, empty: bool = False) -> None:
        """``key`` must be a string (non-empty unless ``empty``)."""
        if key not in self.config:
            if required:
                self.add(key, REQUIRED)
            return
        value = self.config[key]
        if not isinstance(value, str):
            self.add(key, f"expected a string, got {type_name(value)}")
        elif not empty and not value.strip():
            self.add(key, "must not be empty")

    def one_of(
        self, key: str, choices: tuple[str, ...], what: str, *, required: bool, refs: bool = True
    ) -> None:
        """``key`` must be one of ``choices`` (or, with ``refs``, a reference before a run)."""
        if refs and self.is_ref(self.config.get(key)):
            return
        self.choice(key, choices, what, required=required)

    def number(
        self,
        key: str,
        low: float,
        high: float | None = None,
        *,
        integer: bool = False,
        required: bool = False,
    ) -> None:
        """``key`` must be a number (a whole one if ``integer``) in ``[low, high]``."""
        if key not in self.config:
            if required:
                self.add(key, REQUIRED)
            return
        value = self.config[key]
        if self.is_ref(value):
            return
        kind = "a whole number" if integer else "a number"
        if not is_number(value) or (integer and not isinstance(value, int)):
            self.add(key, f"expected {kind}, got {type_name(value)}")
        elif value < low or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            self.add(key, f"must be {bounds}")

    def url(self, key: str, *, required: bool) -> None:
        """``key`` must be an absolute http(s) URL, or hold a reference before a run."""
        if key not in self.config:
            if required:
                self.add(key, REQUIRED)
            return
        value = self.config[key]
        if not isinstance(value, str):
            self.add(key, f"expected a URL, got {type_name(value)}")
            return
        if self.allow_refs and REFERENCE.search(value):
            return
        try:
            parts = urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            usable = False
        if not usable:
            self.add(key, "must be an absolute http:// or https:// URL")

    def strings(self, key: str) -> None:
        """``key``, when present, must be an object whose values are strings."""
        if key not in self.config or self.is_ref(self.config[key]):
            return
        mapping = self.nested(key, self.config[key])
        if mapping is None:
            return
        for name, value in mapping.config.items():
            if not isinstance(value, str):
                mapping.add(name, f"expected a string, got {type_name(value)}")

    def status_codes(self, key: str) -> None:
        """``key``, when present, must be a list of HTTP statuses (100-599)."""
        if key not in self.config or self.is_ref(self.config[key]):
            return
        value = self.config[key]
        if not isinstance(value, list):
            self.add(key, f"expected an array of HTTP statuses, got {type_name(value)}")
            return
        for index, item in enumerate(value):
            if not isinstance(item, int) or isinstance(item, bool) or not 100 <= item <= 599:
                self.add(f"{key}.{index}", "expected an HTTP status between 100 and 599")

    def uuid(self, key: str, *, required: bool) -> None:
        """``key`` must be a UUID (or a reference before a run)."""
        if key not in self.config:
            if required:
                self.add(key, REQUIRED)
            return
        value = self.config[key]
        if self.is_ref(value):
            return
        try:
            UUID(value)
        except (TypeError, ValueError, AttributeError):
            self.add(key, "expected an id (a UUID)")

    def string_list(self, key: str, *, max_items: int) -> None:
        """``key``, when present, must be a list of at most ``max_items`` strings."""
        if key not in self.config or self.is_ref(self.config[key]):
            return
        value = self.config[key]
        if not isinstance(value, list):
            self.add(key, f"expected an array of strings, got {type_name(value)}")
            return
        if len(value) > max_items:
            self.add(key, f"at most {max_items} items")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.add(f"{key}.{index}", f"expected a string, got {type_name(item)}")


def _run(kind: str, config: Any, allow_refs: bool, check: Callable[[_Shape], None]) -> None:
    problems: list[FieldError] = []
    if not isinstance(config, dict):
        problems.append(FieldError("config", f"expected an object, got {type_name(config)}"))
    else:
        check(_Shape(config, "config", problems, allow_refs=allow_refs))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationFailed(
            f"invalid {kind} config: {first.field}: {first.message}{more}", problems
        )


def _api(config: _Shape) -> None:
    config.only(API_KEYS)
    config.one_of("method", HTTP_METHODS, "method", required=False)
    config.url("url", required=True)
    config.strings("headers")
    config.strings("query")
    config.number("timeoutMs", 1, MAX_API_TIMEOUT_MS, integer=True)
    if "auth" in config.config:
        _api_auth(config.nested("auth", config.config["auth"]))
    if "retry" in config.config:
        retry = config.nested("retry", config.config["retry"])
        if retry is not None:
            retry.only(RETRY_KEYS)
            retry.number("count", 0, MAX_API_RETRIES, integer=True)
            retry.number("delayMs", 0, integer=True)
            retry.status_codes("statusCodes")


def _api_auth(auth: _Shape | None) -> None:
    if auth is None:
        return
    auth.one_of("type", tuple(AUTH_FIELDS), "auth type", required=True, refs=False)
    kind = auth.config.get("type")
    fields = AUTH_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return
    required, optional = fields
    auth.only(("type", *required, *optional))
    for name in required:
        auth.text(name, required=True)
    if "header" in optional:
        auth.text("header")
        auth.one_of("in", ("header", "query"), "location", required=False)


def _llm(config: _Shape) -> None:
    config.only(LLM_KEYS)
    config.one_of("provider", LLM_PROVIDERS, "provider", required=True, refs=False)
    config.url("baseUrl", required=config.config.get("provider") == "openai-compatible")
    config.text("model", required=True)
    config.text("prompt", required=True)
    config.text("systemPrompt", empty=True)
    config.number("temperature", 0, 2)
    config.number("maxTokens", 1, integer=True)
    config.number("topP", 0, 1)
    config.number("frequencyPenalty", -2, 2)
    config.number("presencePenalty", -2, 2)
    if config.config.get("provider") == "anthropic":
        _anthropic_limits(config)
    config.string_list("stopSequences", max_items=MAX_STOP_SEQUENCES)
    config.one_of("responseFormat", ("text", "json"), "response format", required=False)
    config.number("maxTurns", 1, MAX_TURNS, integer=True)
    config.number("maxTotalTokens", 1, integer=True)
    config.number("toolConcurrency", 1, MAX_TOOL_CONCURRENCY, integer=True)
    stream = config.config.get("stream", False)
    if not isinstance(stream, bool) and not config.is_ref(stream):
        config.add("stream", f"expected true or false, got {type_name(stream)}")
    if "outputSchema" in config.config:
        if not isinstance(config.config["outputSchema"], dict):
            config.add("outputSchema", "expected a JSON Schema (an object)")
        elif config.config.get("responseFormat") != "json":
            config.add("outputSchema", 'needs responseFormat "json"')
    if "tools" in config.config:
        _llm_tools(config)
    if "apiKey" in config.config:
        key = config.config["apiKey"]
        if config.allow_refs and not is_reference(key):
            # A key written into the config would be stored and read back with the agent.
            config.add("apiKey", "must be a reference such as {{env.OPENAI_API_KEY}}")
        elif not config.allow_refs:
            config.text("apiKey")


def _llm_tools(config: _Shape) -> None:
    """``tools``: a list of ``{"agentId", "name"?, "description"?, "parameters"?,
    "requiresApproval"?}`` with distinct, provider-safe names."""
    tools = config.config["tools"]
    if not isinstance(tools, list):
        config.add("tools", f"expected an array of tools, got {type_name(tools)}")
        return
    if len(tools) > MAX_TOOLS:
        config.add("tools", f"at most {MAX_TOOLS} tools")
    names: set[str] = set()
    for index, item in enumerate(tools):
        tool = config.nested(f"tools.{index}", item)
        if tool is None:
            continue
        if "mcp" in tool.config:
            _mcp_tool(tool)
            continue
        tool.only(TOOL_KEYS)
        tool.uuid("agentId", required=True)
        name = tool.config.get("name")
        if name is not None:
            if not isinstance(name, str) or not TOOL_NAME.match(name):
                tool.add("name", "must be 1 to 64 letters, digits, '_' or '-'")
            elif name in names:
                tool.add("name", f"another tool is already named {name!r}")
            else:
                names.add(name)
        tool.text("description")
        if "parameters" in tool.config:
            parameters = tool.config["parameters"]
            if not isinstance(parameters, dict):
                tool.add("parameters", "expected a JSON Schema (an object)")
            elif parameters.get("type", "object") != "object":
                tool.add("parameters", 'must describe an object ("type": "object")')
        approval = tool.config.get("requiresApproval", False)
        if not isinstance(approval, bool):
            tool.add("requiresApproval", f"expected true or false, got {type_name(approval)}")


def _mcp_tool(tool: _Shape) -> None:
    """``{"mcp": {"url", "headers"?, "tools"?: [allowlist]}, "requiresApproval"?}``."""
    tool.only(MCP_TOOL_KEYS)
    server = tool.nested("mcp", tool.config["mcp"])
    if server is not None:
        server.only(MCP_KEYS)
        server.url("url", required=True)
        server.strings("headers")
        server.string_list("tools", max_items=MAX_TOOLS)
    approval = tool.config.get("requiresApproval", False)
    if not isinstance(approval, bool):
        tool.add("requiresApproval", f"expected true or false, got {type_name(approval)}")


def _anthropic_limits(config: _Shape) -> None:
    """What Anthropic's Messages API lacks (penalties) or bounds tighter (temperature 0-1):
    refused when saved rather than dropped or sent to fail at run time."""
    for key in ("frequencyPenalty", "presencePenalty"):
        value = config.config.get(key)
        if is_number(value) and value != 0:
            config.add(key, "not supported by the anthropic provider (remove it or set 0)")
    temperature = config.config.get("temperature")
    if temperature is not None and is_number(temperature) and temperature > 1:
        config.add("temperature", "must be between 0 and 1 for the anthropic provider")


def _code(config: _Shape) -> None:
    config.only(CODE_KEYS)
    config.one_of("runtime", CODE_RUNTIMES, "runtime", required=True, refs=False)
    config.text("code", required=True)
    code = config.config.get("code")
    if isinstance(code, str) and len(code.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
        config.add("code", f"must be at most {MAX_CODE_BYTES} bytes (UTF-8)")
    config.number("timeoutSeconds", 1, MAX_CODE_TIMEOUT_SECONDS)
    config.number("memoryMb", *CODE_MEMORY_MB, integer=True)


def _workflow(config: _Shape) -> None:
    config.only(WORKFLOW_KEYS)
    config.uuid("workflowId", required=True)


def _function(config: _Shape) -> None:
    config.only(FUNCTION_KEYS)
    config.text("function", required=True)


def check_api_config(config: Any, *, allow_refs: bool = True) -> None:
    """An API agent: ``method``, ``url`` (required), ``headers``, ``query``, ``body``,
    ``auth`` (bearer / basic / apiKey), ``timeoutMs``, ``retry``."""
    _run("API", config, allow_refs, _api)


def check_llm_config(config: Any, *, allow_refs: bool = True) -> None:
    """An LLM agent: ``provider``, ``model`` and ``prompt`` required (``baseUrl`` too for
    openai-compatible), sampling options in their ranges; ``apiKey`` only as a reference."""
    _run("LLM", config, allow_refs, _llm)


def check_code_config(config: Any, *, allow_refs: bool = True) -> None:
    """A CODE agent: ``runtime`` (python or node), ``code`` (at most 1 MiB), limits."""
    _run("CODE", config, allow_refs, _code)


def check_workflow_config(config: Any, *, allow_refs: bool = True) -> None:
    """A WORKFLOW agent: ``{"workflowId": <uuid>}``."""
    _run("WORKFLOW", config, allow_refs, _workflow)


def check_function_config(config: Any, *, allow_refs: bool = True) -> None:
    """A FUNCTION agent's shape: ``{"function": <non-empty name>}`` (whether that name is
    registered is the executor's check: ``FunctionExecutor.check_config``)."""
    _run("FUNCTION", config, allow_refs, _function)


def _check_data_config(config: Any, *, allow_refs: bool = True) -> None:
    validate_data_config(config)


CONFIG_CHECKERS: Final[Mapping[AgentType, Callable[..., None]]] = {
    AgentType.API: check_api_config,
    AgentType.LLM: check_llm_config,
    AgentType.CODE: check_code_config,
    AgentType.WORKFLOW: check_workflow_config,
    AgentType.DATA: _check_data_config,
    AgentType.FUNCTION: check_function_config,
}
"""Each type's shape checker: ``checker(config, allow_refs=...)``."""


def check_agent_config(agent_type: AgentType, config: Any) -> None:
    """Check a config about to be saved against its type's shape (``ValidationFailed``)."""
    CONFIG_CHECKERS[agent_type](config)


def masked_config(value: Any) -> Any:
    """A config with the values of secret-looking keys (tokens, passwords, keys) masked,
    for audit entries."""
    if isinstance(value, dict):
        return {
            key: MASK
            if isinstance(key, str) and key.lower() in SECRET_KEYS and item is not None
            else masked_config(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked_config(item) for item in value]
    return value
