"""The LLM client of a Kafka worker, with its reply cache in a changelog-backed faust table.

Mirrors ``streams/local/extras.py``: a workflow with llm steps gets one ``LLMClient`` (from the settings:
``DWF_LLM_*``), shared by every agent's StepContext, closed when the worker stops. Its cache is a faust
table (``<group>-llm-cache-changelog``) instead of the local runtime's sqlite file: the changelog makes it
survive restarts and lets any worker of the group that takes over a partition answer from it.

A faust table is partitioned like the topics: an entry is written to the changelog partition of the
record that made the call, and a worker holds the entries of the partitions assigned to it. A rerun of
the same input has the same run ids, so its records land on the same partitions and find their replies.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dana_workflows.streams.kafka.context import AgentContext

if TYPE_CHECKING:
    from dana_workflows.core.settings import Settings
    from dana_workflows.processors.llm import LLMClient

log = logging.getLogger(__name__)


class LLMWiring:
    def __init__(self, ctx: AgentContext, settings: Settings) -> None:
        from dana_workflows.processors.llm import LLMClient, MappingLLMCache

        self.table: Any = ctx.app.Table(
            "llm-cache",
            partitions=ctx.options.partitions,
            key_type=str,
            value_type=str,
            help="validated LLM replies by cache key (model chain, prompt, parameters, output schema)",
        )
        self.client: LLMClient = LLMClient.from_settings(settings, cache=MappingLLMCache(self.table))

    async def close(self) -> None:
        await self.client.aclose()


def attach_llm(ctx: AgentContext, settings: Settings | None = None) -> LLMWiring | None:
    if not ctx.pipeline.has_llm_steps:
        return None
    if settings is None:
        from dana_workflows.core.settings import load_settings

        settings = load_settings()
    return LLMWiring(ctx, settings)
