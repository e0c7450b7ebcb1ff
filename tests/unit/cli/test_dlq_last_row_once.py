"""`dana-wf dlq list` and `dlq replay` find an event's last dlq row in one place (Candidate.of): a listed
row and a replay's refusal check read it once per event, and both see the same row."""

from __future__ import annotations

import pytest

from dana_workflows.cli import dlq
from dana_workflows.processors.pipeline import Pipeline, compile_pipeline
from dana_workflows.processors.run_history import RunHistory, history_of
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.audit_scope import utc_text
from dana_workflows.workflow.spec import parse_spec
from tests.unit.cli.test_dlq_selection import SPEC  # the one-step workflow the dlq tests run

pytestmark = pytest.mark.unit


def _history(kinds: tuple[str, ...]) -> RunHistory:
    rows = [
        AuditRow("wf", 1, "r1", seq, "r1/in", "score", kind, reason="boom", ts_us=1_000_000 * (seq + 1))
        for seq, kind in enumerate(kinds)
    ]
    history = history_of(rows)
    assert history is not None
    return history


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []
    real = RunHistory.last_of

    def last_of(self: RunHistory, kind: str) -> AuditRow | None:
        asked.append(kind)
        return real(self, kind)

    monkeypatch.setattr(RunHistory, "last_of", last_of)
    return asked


def test_a_listed_row_reads_the_last_dlq_row_once(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline: Pipeline = compile_pipeline(parse_spec(SPEC))
    # two dlq rows: the listed time is the last one's (seq 3, written at 4 s)
    history = _history(("received", "dlq", "emitted", "dlq"))
    env = Envelope("r1/in", "r1", "wf", 1, "score", {"id": "r1"}, provenance={"error": "boom"})
    asked = _counting(monkeypatch)
    row = dlq._dlq_row(pipeline, "r1", env, history)
    assert row == ["r1", "score", utc_text(4_000_000), "boom", "yes"]
    assert asked.count("dlq") == 1


def test_the_candidate_carries_the_last_dlq_row() -> None:
    env = Envelope("r1/in", "r1", "wf", 1, "score", {"id": "r1"})
    history = _history(("received", "dlq", "emitted", "dlq", "emitted"))
    last = dlq.Candidate.of(env, history).dlq_row
    assert last is not None and (last.seq, last.kind) == (3, "dlq")
    assert dlq.Candidate.of(env, None).dlq_row is None
