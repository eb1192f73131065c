"""LLM providers over HTTP: the ``LlmClient`` the LLM agent calls."""

from turbocat_adapters.llm.client import HttpLlmClient

__all__ = ["HttpLlmClient"]
