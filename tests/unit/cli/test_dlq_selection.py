"""Which dead-lettered events `dana-wf dlq replay` runs (cli/dlq.py): named ones must all be replayable or
nothing happens; in a time range the others are skipped with a note, and an empty selection is an error.
A replay is placed at its chain's tail after its `replayed` row."""

from __future__ import annotations

import json

import pytest
import typer

from dana_workflows.cli.dlq import Candidate, choose, prepare
from dana_workflows.cli.times import time_option_us as parse_time
from dana_workflows.processors.pipeline import Pipeline, compile_pipeline
from dana_workflows.processors.resume import ResumePoint
from dana_workflows.processors.run_history import history_of
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: wf
version: 4
input: {id: string}
steps:
  - score:
      transform:
        set:
          score: {expr: "1.0", type: double}
"""


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return compile_pipeline(parse_spec(SPEC))


def candidate(run: str, kinds: tuple[str, ...], ts: int, step: str = "score") -> Candidate:
    rows = [
        AuditRow("wf", 1, run, seq, f"{run}/in", "score", kind, reason="boom", ts_us=ts, hash=f"{run}{seq}")
        for seq, kind in enumerate(kinds)
    ]
    envelope = Envelope(f"{run}/in", run, "wf", 1, step, {"id": run}, provenance={"error": "boom"})
    return Candidate.of(envelope, history_of(rows))


def test_named_events_must_exist(pipeline: Pipeline) -> None:
    found = {"r1": candidate("r1", ("received", "dlq"), 10)}
    assert [c.envelope.run_id for c in choose(found, ["r1", "r1"], None, None, "file")] == ["r1"]
    with pytest.raises(typer.Exit) as exc:
        choose(found, ["r1", "r9"], None, None, "file")
    assert exc.value.exit_code == 2


def test_a_range_selects_by_the_dlq_time(pipeline: Pipeline) -> None:
    found = {
        "early": candidate("early", ("received", "dlq"), 10),
        "late": candidate("late", ("received", "dlq"), 20),
        "fine": candidate("fine", ("received", "completed"), 15),
    }
    assert [c.envelope.run_id for c in choose(found, [], 10, 20, "file")] == ["early"]  # until is exclusive
    assert [c.envelope.run_id for c in choose(found, [], 11, None, "file")] == ["late"]
    with pytest.raises(typer.Exit):
        choose(found, [], 21, None, "file")


def test_prepare_places_each_replay_at_its_tail(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = candidate("ok", ("received", "emitted", "dlq"), 10)
    done = candidate("done", ("received", "dlq", "replayed", "completed"), 10)
    items = prepare(pipeline, [ok, done], {}, strict=False, clock=lambda: 77)
    assert "skipped: event done was replayed already" in capsys.readouterr().out
    (item,) = items
    assert item.point == ResumePoint("in", "score")
    assert (item.first_row.kind, item.first_row.seq, item.first_row.prev_hash, item.first_row.ts_us) == (
        "replayed",
        3,
        "ok2",
        77,
    )
    assert json.loads(item.first_row.details)["dlq_hash"] == "ok2"
    assert item.envelope.workflow_version == 4 and "error" not in item.envelope.provenance
    assert (item.envelope.chain_seq, item.envelope.chain_hash) == (4, item.first_row.hash)


def test_named_refusals_stop_everything(pipeline: Pipeline) -> None:
    ok = candidate("ok", ("received", "dlq"), 10)
    sent = {"ok": AuditRow("wf", 1, "ok", 2, "ok/in", "score", "replayed")}
    with pytest.raises(typer.Exit):
        prepare(pipeline, [ok], sent, strict=False, clock=lambda: 1)  # on the resume topic already
    dead = candidate("dead", ("received", "dlq"), 10, step="ingest")
    with pytest.raises(typer.Exit):
        prepare(pipeline, [candidate("ok", ("received", "dlq"), 10), dead], {}, strict=True, clock=lambda: 1)


def test_times_are_iso_8601_and_utc_without_a_zone() -> None:
    assert parse_time("1970-01-01T00:00:01Z", "--since") == 1_000_000
    assert parse_time("1", "--since") == 1_000_000  # epoch seconds, as dana-wf diff reads them
    assert parse_time("1970-01-01T00:00:01", "--since") == 1_000_000
    assert parse_time("1970-01-01T01:00:01+01:00", "--since") == 1_000_000
    assert parse_time(None, "--since") is None
    with pytest.raises(typer.Exit):
        parse_time("soon", "--until")
