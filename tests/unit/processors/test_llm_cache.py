"""The reply cache: keys that change with every input of a call, a file store that survives restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.processors.llm.cache import MappingLLMCache, SqliteLLMCache, cache_key

pytestmark = pytest.mark.unit

BASE = {"models": ("m",), "system": "s", "prompt": "p", "params": {"temperature": 0.0}, "schema": {"a": 1}}


def key(**kw: object) -> str:
    args = {**BASE, **kw}
    return cache_key(args["models"], args["system"], args["prompt"], args["params"], args["schema"])  # type: ignore[arg-type]


def test_key_is_stable_and_changes_with_each_input() -> None:
    k = key()
    assert k == key() and len(k) == 64
    variants = [
        key(models=("m2",)),
        key(models=("m", "fallback")),
        key(system="s2"),
        key(prompt="p2"),
        key(params={"temperature": 0.5}),
        key(schema={"a": 2}),
    ]
    assert len({k, *variants}) == 7


def test_key_ignores_dict_order() -> None:
    assert key(params={"a": 1, "b": 2}) == key(params={"b": 2, "a": 1})


def test_sqlite_cache_survives_reopen(tmp_path: Path) -> None:
    c = SqliteLLMCache(tmp_path / "cache")
    assert c.get("k") is None
    c.put("k", {"output": {"risk": "high"}, "response_id": "x"})
    c.close()
    again = SqliteLLMCache(tmp_path / "cache")
    assert again.get("k") == {"output": {"risk": "high"}, "response_id": "x"} and len(again) == 1
    again.close()


def test_sqlite_cache_unwritable_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RuntimeError, match="DWF_LLM_CACHE_PATH"):
        SqliteLLMCache(blocker / "sub")


def test_mapping_cache_stores_json_strings() -> None:
    table: dict[str, object] = {}
    c = MappingLLMCache(table)
    c.put("k", {"output": {"b": 1, "a": 2}})
    assert table == {"llm-cache:k": '{"output":{"a":2,"b":1}}'}
    assert c.get("k") == {"output": {"a": 2, "b": 1}} and c.get("other") is None
