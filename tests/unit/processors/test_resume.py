"""Resuming an event at a step (processors/resume.py): where it goes on, what a decision may set, and the
override and replayed rows on the event's chain. Expected values follow the spec below and the issue 18
contract (row kinds and details), not the code."""

from __future__ import annotations

import json

import pytest

from dana_workflows.processors.boundary import MISFIT_REASON
from dana_workflows.processors.pipeline import OUT, Pipeline, compile_pipeline
from dana_workflows.processors.resume import (
    KEEP,
    ResumeError,
    ResumePoint,
    after_step,
    apply_override,
    check_complete,
    decision_text,
    mark_replayed,
    output_fields,
    parse_decision,
    point_at,
    replay_point,
    resumed_at,
)
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.sinks.audit_model import AuditRow, row_digest
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: scoring
version: 2
input:
  id: string
  amount: double
steps:
  - score:
      transform:
        set:
          score: {expr: "amount / 100.0", type: double}
          band: {expr: "'x'", type: string}
  - check:
      validate:
        - {id: positive, rule: "score >= 0.0"}
  - decide:
      route:
        approve: "score >= 0.5"
        hold: {when: "true", terminal: true}
"""


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return compile_pipeline(parse_spec(SPEC))


def envelope(step: str, payload: dict[str, object]) -> Envelope:
    return Envelope("r1/x", "r1", "scoring", 1, step, dict(payload), 5, 2, {"error": "boom"}, 7, "a" * 64)


def test_points_of_boundaries(pipeline: Pipeline) -> None:
    assert point_at(pipeline, "in") == ResumePoint("in", "score")
    assert point_at(pipeline, "score") == ResumePoint("score", "check")
    assert point_at(pipeline, "hold") == ResumePoint("hold", None)
    with pytest.raises(ResumeError, match="'nowhere' is not in version 2"):
        point_at(pipeline, "nowhere")


def test_after_step_follows_the_edge_or_the_chosen_branch(pipeline: Pipeline) -> None:
    assert after_step(pipeline, pipeline.nodes["score"], {}) == ResumePoint("score", "check")
    decide = pipeline.nodes["decide"]
    assert after_step(pipeline, decide, {"route": "hold"}) == ResumePoint("hold", None)
    assert after_step(pipeline, decide, {"route": "approve"}).boundary == OUT
    with pytest.raises(ResumeError, match="one of its branches"):
        after_step(pipeline, decide, {"route": "maybe"})


def test_output_fields_are_what_the_step_writes(pipeline: Pipeline) -> None:
    assert set(output_fields(pipeline, pipeline.nodes["score"])) == {"score", "band"}
    assert output_fields(pipeline, pipeline.nodes["check"]) == {}
    route = output_fields(pipeline, pipeline.nodes["decide"])
    assert route["route"].symbols == ("approve", "hold")


def test_decisions_are_parsed_and_type_checked(pipeline: Pipeline) -> None:
    fields = output_fields(pipeline, pipeline.nodes["score"])
    assert parse_decision(["score=0.8", "band=high"], fields, "score") == {"score": 0.8, "band": "high"}
    assert parse_decision(['{"score": 1.5}'], fields, "score") == {"score": 1.5}
    assert parse_decision([KEEP], fields, "score") == {}
    assert parse_decision(["score=1"], fields, "score") == {"score": 1.0}  # an int is a double
    with pytest.raises(ResumeError, match="'score' must be double"):
        parse_decision(["score=high"], fields, "score")
    with pytest.raises(ResumeError, match=r"does not write 'amount'.*score:double"):
        parse_decision(["amount=3"], fields, "score")
    with pytest.raises(ResumeError, match="write field=value"):
        parse_decision(["score"], fields, "score")
    with pytest.raises(ResumeError, match="not a JSON object"):
        parse_decision(["{score"], fields, "score")
    with pytest.raises(ResumeError, match="give a decision"):
        parse_decision([], fields, "score")
    route = output_fields(pipeline, pipeline.nodes["decide"])
    with pytest.raises(ResumeError, match="not one of its declared values"):
        parse_decision(["route=maybe"], route, "decide")
    with pytest.raises(ResumeError, match="none: decide keep"):
        parse_decision(["x=1"], output_fields(pipeline, pipeline.nodes["check"]), "check")


def test_a_decision_must_set_what_the_failed_step_did_not_write(pipeline: Pipeline) -> None:
    """An event reaches review after its step failed: its payload lacks the step's output. Keeping that, or
    setting only part of it, would not fit the next boundary and would send the event to dlq after a final
    decision; it is refused before anything is recorded."""
    fields = output_fields(pipeline, pipeline.nodes["score"])
    failed = {"id": "a", "amount": 5.0}  # score and band never written
    with pytest.raises(ResumeError, match=r"did not write score:double, band:string .* set them"):
        check_complete(fields, failed, {}, "score")  # keep
    with pytest.raises(ResumeError, match=r"did not write band:string .* set it, e.g. --decision band="):
        check_complete(fields, failed, {"score": 0.8}, "score")
    check_complete(fields, failed, {"score": 0.8, "band": "high"}, "score")  # complete: accepted
    check_complete(fields, {**failed, "score": 0.1, "band": "low"}, {}, "score")  # written: keep is fine
    check_complete(output_fields(pipeline, pipeline.nodes["check"]), failed, {}, "check")  # writes nothing


def test_replay_points(pipeline: Pipeline) -> None:
    failed = envelope("check", {"id": "a"})
    assert replay_point(pipeline, failed, "ValueError: boom") == ResumePoint("score", "check")
    misfit = envelope("score", {"id": "a"})
    assert replay_point(pipeline, misfit, f"{MISFIT_REASON} 'dwf.scoring.score': x") == ResumePoint(
        "score", "check"
    )
    with pytest.raises(ResumeError, match="at ingest"):
        replay_point(pipeline, envelope("ingest", {"raw": "{"}), "line 1: not JSON")
    with pytest.raises(ResumeError, match="no longer has"):
        replay_point(pipeline, envelope("gone", {}), "ValueError")


def test_override_row_replaces_the_output_and_extends_the_chain(pipeline: Pipeline) -> None:
    env = envelope("score", {"id": "a", "amount": 20.0})
    row = apply_override(
        env, pipeline.nodes["score"], {"score": 0.9}, reviewer="alice", reason="looked at it", now_us=123
    )
    assert (row.kind, row.step, row.reason, row.ts_us, row.seq, row.prev_hash) == (
        "override",
        "score",
        "looked at it",
        123,
        7,
        "a" * 64,
    )
    assert row.decision == "score=0.9"
    details = json.loads(row.details)
    assert details == {
        "reviewer": "alice",
        "before": {"score": None},
        "after": {"score": 0.9},
        "decided_at_us": 123,
        "step": "score",
    }
    assert row.hash == row_digest(row)
    assert (env.chain_seq, env.chain_hash) == (8, row.hash)
    assert env.payload["score"] == 0.9 and "error" not in env.provenance and env.attempt == 0
    assert decision_text({}) == KEEP


def test_replayed_row_links_the_dlq_record() -> None:
    dlq = AuditRow(
        "scoring", 1, "r1", 6, "r1/score", "check", "dlq", "dlq", "ValueError: boom", hash="d" * 64
    )
    env = envelope("check", {"id": "a"})
    env.chain_hash = GENESIS_HASH
    row = mark_replayed(env, dlq, 99, version=3)
    assert (row.kind, row.reason, row.ts_us, row.workflow_version) == ("replayed", "ValueError: boom", 99, 3)
    assert json.loads(row.details) == {
        "original_run_id": "r1",
        "original_event_id": "r1/score",
        "dlq_hash": "d" * 64,
        "original_version": 1,
    }
    assert env.workflow_version == 3 and env.chain_hash == row.hash
    assert resumed_at(env, ResumePoint("score", "check")).event_id == "r1/score"
