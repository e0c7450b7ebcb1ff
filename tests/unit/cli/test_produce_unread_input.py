"""`dana-wf produce` into an input topic it had to make itself (newcomer4 N4-3): no worker has run that
workflow under that prefix, so a misspelt --prefix or workflow name would leave the events where nothing
reads them, exit 0 and silence. The command notes it (on stderr, --quiet too) and names the input topics
like it on the broker; an input topic a worker made gets no note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dana_workflows.streams.kafka import admin, producer
from tests.unit.cli.test_s16_mutants_produce import _produce  # produce of one claims line, broker b:1

pytestmark = pytest.mark.unit


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The topics produce made, and those the broker holds."""
    state: dict[str, list[str]] = {"created": [], "topics": []}

    async def produce_lines(*_: Any, **__: Any) -> Any:
        return producer.ProduceSummary(lines=1, audit_rows=2, seconds=0.5, created_topics=state["created"])

    async def topic_names(bootstrap: str, **_: Any) -> list[str]:
        return state["topics"]

    monkeypatch.setattr(producer, "produce_lines", produce_lines)
    monkeypatch.setattr(admin, "topic_names", topic_names)
    return state


def test_a_misspelt_prefix_is_noted_with_the_input_topics_like_it(
    broker: dict[str, list[str]], tmp_path: Path
) -> None:
    broker["created"] = ["nc44.claims-triage.in", "nc44.claims-triage.out"]
    broker["topics"] = [
        "nc4.claims-triage.in",
        "nc4.claims-triage.out",
        "nc44.claims-triage.in",
        "x.lending.in",
    ]
    res = _produce(tmp_path, "--prefix", "nc44", "-q")
    assert res.exit_code == 0, res.output
    assert (
        "note: nc44.claims-triage.in did not exist, so no worker has run workflow 'claims-triage'"
        in res.output
    )
    assert "under prefix 'nc44' yet" in res.output
    assert "check --prefix (DWF_TOPIC_PREFIX) and the spec's `workflow:` name" in res.output
    assert "input topics like it on this broker: nc4.claims-triage.in" in res.output
    assert "x.lending.in" not in res.output and "nc4.claims-triage.out" not in res.output


def test_an_input_topic_a_worker_made_gets_no_note(broker: dict[str, list[str]], tmp_path: Path) -> None:
    broker["created"] = ["dwf.claims-triage.review"]  # another topic was missing, not the input
    res = _produce(tmp_path)
    assert res.exit_code == 0, res.output
    assert "note:" not in res.output
    assert "1 events to dwf.claims-triage.in" in res.output


def test_nothing_alike_on_the_broker_gives_the_note_without_names(
    broker: dict[str, list[str]], tmp_path: Path
) -> None:
    broker["created"] = ["dwf.claims-triage.in"]
    broker["topics"] = ["dwf.claims-triage.in", "other.lending.in"]
    res = _produce(tmp_path)
    assert "note: dwf.claims-triage.in did not exist" in res.output
    assert "like it on this broker" not in res.output
