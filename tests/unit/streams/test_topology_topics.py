"""The topics of a compiled workflow as docs/kafka-runtime.md ("Topics") lists them: `<prefix>.<wf>.in`, one
per step output, the outcome topics, the mixed-schema `rejected`, `dlq` and `review` (no schema id: each
message names its own), `<prefix>.<wf>.resume` and `<prefix>.audit`; each typed topic's schema registered
once under its TopicNameStrategy subject `<topic>-value`; and the Mermaid picture's nodes and edges."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.topology import Topology, topic_name
from tests.fixtures.review_workflow import SPEC

pytestmark = pytest.mark.unit

# the drift monitor form of docs/drift.md: one numeric input field watched
DRIFT = "drift:\n  monitors:\n    - {id: amounts, field: amount, feature: numeric}\n"


class RecordingRegistry:
    """Hands out ids 101, 102, ... and records each subject it was asked to register."""

    def __init__(self) -> None:
        self.subjects: list[str | None] = []
        self.schemas: list[dict[str, Any]] = []

    def register(self, schema: dict[str, Any], subject: str | None = None) -> int:
        self.subjects.append(subject)
        self.schemas.append(schema)
        return 100 + len(self.subjects)


def _pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Pipeline:
    (tmp_path / "scorer.py").write_text("def score(payload):\n    return {'score': 1.0}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("scorer", None)
    spec = tmp_path / "scoring.yaml"
    spec.write_text(SPEC + extra)
    return load_pipeline(spec)


def test_topic_names() -> None:
    assert topic_name("claims", "in") == "dwf.claims.in"
    assert topic_name("claims", "out", prefix="team") == "team.claims.out"


def test_every_boundary_gets_its_topic_and_typed_topics_a_registered_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = RecordingRegistry()
    topo = Topology(_pipeline(tmp_path, monkeypatch), registry, prefix="px")  # type: ignore[arg-type]
    typed = {
        "in": "px.scoring.in",
        "score": "px.scoring.score",
        "out": "px.scoring.out",
        "hold": "px.scoring.hold",
    }
    mixed = {"rejected": "px.scoring.rejected", "dlq": "px.scoring.dlq", "review": "px.scoring.review"}
    assert {b: t.topic for b, t in topo.topics.items()} == {**typed, **mixed}
    assert sorted(registry.subjects) == sorted(f"{t}-value" for t in typed.values())
    for boundary in typed:
        spec = topo.topics[boundary]
        assert spec.schema is not None
        assert spec.schema_id == 101 + registry.subjects.index(f"{spec.topic}-value")
        assert topo.schema_id(boundary) == spec.schema_id
        assert topo.topic(boundary) == spec.topic
    for boundary in mixed:
        assert topo.topics[boundary].schema is None and topo.topics[boundary].schema_id is None
        with pytest.raises(AssertionError, match=f"{boundary} carries mixed schemas"):
            topo.schema_id(boundary)
    assert topo.audit_topic == "px.audit"
    assert topo.resume_topic == "px.scoring.resume"
    assert "resume" not in topo.topics  # not a boundary of the pipeline


def test_a_drift_monitor_adds_the_drift_topic_with_its_record_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dana_workflows.drift.records import DRIFT_RECORD_SCHEMA

    registry = RecordingRegistry()
    topo = Topology(_pipeline(tmp_path, monkeypatch, DRIFT), registry)  # type: ignore[arg-type]
    drift = topo.topics["drift"]
    assert drift.topic == "dwf.scoring.drift"
    assert drift.schema == DRIFT_RECORD_SCHEMA
    assert registry.subjects[-1] == "dwf.scoring.drift-value"
    assert drift.schema_id == 100 + len(registry.subjects)


def test_no_drift_topic_without_monitors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    topo = Topology(_pipeline(tmp_path, monkeypatch), RecordingRegistry())  # type: ignore[arg-type]
    assert "drift" not in topo.topics


def test_the_mermaid_picture_draws_each_step_its_edges_and_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topo = Topology(_pipeline(tmp_path, monkeypatch), RecordingRegistry())  # type: ignore[arg-type]
    lines = topo.mermaid().splitlines()
    assert lines[0] == "flowchart LR"
    ident = {line.split("[")[0].strip(): line for line in lines if '[("' in line}
    topic_of = {line.split('[("')[1].split('")')[0]: name for name, line in ident.items()}
    t = {b: topic_of[f"dwf.scoring.{b}"] for b in ("in", "score", "out", "hold", "rejected", "dlq", "review")}
    score = next(line.split("[")[0].strip() for line in lines if '"score (transform)"' in line)
    decide = next(line.split("[")[0].strip() for line in lines if '"decide (route)"' in line)
    assert f"  {t['in']} --> {score}" in lines
    assert f"  {score} --> {t['score']}" in lines
    assert f"  {score} -. fail .-> {t['dlq']}" in lines
    assert f"  {score} -. reject .-> {t['rejected']}" not in lines  # a transform does not reject
    assert f"  {t['score']} --> {decide}" in lines
    assert f"  {decide} -- approve --> {t['out']}" in lines
    assert f"  {decide} -- hold --> {t['hold']}" in lines
    assert f"  {decide} -. reject .-> {t['rejected']}" in lines  # a route rejects what no branch takes
    assert f"  {decide} -. fail .-> {t['dlq']}" in lines
    assert lines[-2:] == [f"  {t['in']}:::entry", "  classDef entry fill:#e8f4ff"]
