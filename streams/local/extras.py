"""Optional pieces the local runtime attaches when a workflow needs them (the LLM client)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dana_workflows.core.settings import Settings
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import Pipeline

Closer = Callable[[], Awaitable[None]]


def attach_extras(pipeline: Pipeline, ctx: StepContext, settings: Settings) -> list[Closer]:
    """Give ctx an LLM client (with a persistent cache: reruns make no new calls) when needed."""
    closers: list[Closer] = []
    if pipeline.has_llm_steps:
        from dana_workflows.processors.llm import LLMClient, SqliteLLMCache

        client = LLMClient.from_settings(settings, cache=SqliteLLMCache(settings.llm_cache_path))
        ctx.llm = client
        closers.append(client.aclose)
    return closers
