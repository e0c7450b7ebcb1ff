"""The LLM client of a Kafka worker (streams/kafka/llm_wiring.py): none without llm steps; with them, one
client from the settings whose reply cache is a faust table named `llm-cache` (its changelog
`<group>-llm-cache-changelog`), partitioned like the topics, str keys and values, so the replies a worker
stored are what the cache answers from; closed with the worker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.core.settings import Settings
from dana_workflows.streams.kafka.llm_wiring import LLMWiring, attach_llm

pytestmark = pytest.mark.unit


def context(has_llm: bool, tables: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> Any:
    def table(name: str, **kwargs: Any) -> dict[str, Any]:
        backing: dict[str, Any] = {}
        tables.append((name, kwargs, backing))
        return backing

    return SimpleNamespace(
        pipeline=SimpleNamespace(has_llm_steps=has_llm),
        options=SimpleNamespace(partitions=6),
        app=SimpleNamespace(Table=table),
    )


def test_no_llm_steps_no_client() -> None:
    tables: list[Any] = []
    assert attach_llm(context(False, tables)) is None
    assert tables == []


def test_the_cache_is_a_table_partitioned_like_the_topics(tmp_path: Path) -> None:
    tables: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    wiring = attach_llm(context(True, tables), Settings(data_dir=tmp_path))
    assert isinstance(wiring, LLMWiring)
    ((name, kwargs, backing),) = tables
    assert name == "llm-cache"
    assert kwargs["partitions"] == 6
    assert kwargs["key_type"] is str and kwargs["value_type"] is str
    assert kwargs["help"]
    cache = wiring.client.cache
    assert cache is not None
    cache.put("k1", {"answer": 42})
    assert len(backing) == 1  # stored in the table: what the changelog carries
    assert cache.get("k1") == {"answer": 42}
    asyncio.run(wiring.close())


def test_without_settings_they_are_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[Settings] = []

    def load_settings() -> Settings:
        loaded.append(Settings(data_dir=tmp_path))
        return loaded[-1]

    import dana_workflows.core.settings as settings_module

    monkeypatch.setattr(settings_module, "load_settings", load_settings)
    wiring = attach_llm(context(True, []))
    assert wiring is not None and len(loaded) == 1
    asyncio.run(wiring.close())
