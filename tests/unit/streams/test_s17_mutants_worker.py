"""Mutation pass over session 17's lines of streams/kafka/worker.py: a test for the mutant that survived.

``serve(..., settle_gc=True)``: "this process is the worker (run_worker), so its collector is settled for
good after start-up; a caller serving inside a process of its own (a test) keeps its collector as it is"
(serve's docstring). So the collector is settled once the app started and only when asked, and never
after a start that failed (session 17: the start may end on a fatal error).
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.streams.kafka import worker
from tests.unit.streams.test_mut9_worker import Runtime, run, topics  # noqa: F401 (topics: a fixture)

pytestmark = pytest.mark.unit


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(worker, "settle_after_startup", lambda: calls.append("settled"))
    return calls


@pytest.mark.parametrize(
    ("kw", "expected"), [({}, []), ({"settle_gc": False}, []), ({"settle_gc": True}, ["settled"])]
)
def test_the_collector_is_settled_after_start_only_when_asked(
    topics: Any,  # noqa: F811
    settled: list[str],
    kw: dict[str, Any],
    expected: list[str],
) -> None:
    assert run(Runtime(), **kw) == 0
    assert settled == expected


def test_a_start_that_failed_settles_nothing(topics: Any, settled: list[str]) -> None:  # noqa: F811
    assert run(Runtime(fail={"app": "start"}), settle_gc=True) == 1
    assert settled == []
