"""Optional pieces the local runtime attaches when a workflow needs them (LLM client, drift)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from processors.base import StepContext
from processors.chain import Pipeline
from streams.settings import Settings

Closer = Callable[[], Awaitable[None]]


def attach_extras(pipeline: Pipeline, ctx: StepContext, settings: Settings) -> list[Closer]:
    closers: list[Closer] = []
    return closers
