"""Mutation pass over session 18's lines of cli/dlq.py: a test for the mutant that survived.

Why an event cannot be replayed comes from its history first (``replay_refusal``: no history in the audit
log, replayed already, not in the dlq); only an event its history allows is asked where it would run again
(``replay_point``: none for one dead at ingest). So an event replayed already is refused as such, even when
it died at ingest.
"""

from __future__ import annotations

import pytest

from dana_workflows.cli.dlq import prepare
from dana_workflows.processors.ingest import INGEST
from dana_workflows.processors.pipeline import Pipeline
from tests.unit.cli.test_dlq_selection import candidate, pipeline

pytestmark = pytest.mark.unit
__all__ = ["pipeline"]  # the fixture, used by name


def test_an_ingest_dead_event_replayed_already_is_refused_as_replayed(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    done = candidate("done", ("received", "dlq", "replayed", "dlq"), 10, step=INGEST)
    ok = candidate("ok", ("received", "emitted", "dlq"), 10)
    ready = prepare(pipeline, [done, ok], {}, strict=False, clock=lambda: 77)
    assert [item.envelope.run_id for item in ready] == ["ok"]
    out = capsys.readouterr().out
    assert "skipped: event done was replayed already" in out
    assert "at ingest" not in out
