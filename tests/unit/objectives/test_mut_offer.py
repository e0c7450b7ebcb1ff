"""How a candidate becomes a proposal or is refused (objectives/infer.py ``infer_boundary``/``_offer``).

The contract in the module docstring: a candidate is offered only after it passed the CEL gates, was
tested on the sample, was refined against the held-out known-good events, and its confidence
(strength x share of sample events it admits) reaches ``min_confidence``; every refusal says why.
The profilers are kept quiet here (``min_values`` far above the sample) so only the given candidates run.
"""

from __future__ import annotations

import pytest

from dana_workflows.objectives.infer import Boundary, BoundaryResult, infer_boundary
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.sample import Sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

QUIET = InferenceSettings(min_values=10**6, min_sample=1)
FIELDS = {"amount": FieldIR(name="amount", type="double")}


def _boundary(sample: list[float], holdout: list[float]) -> Boundary:
    s = Sample("s.jsonl", [{"amount": v} for v in sample], lines=list(range(1, len(sample) + 1)))
    h = Sample("h.jsonl", [{"amount": v} for v in holdout], lines=list(range(1, len(holdout) + 1)))
    return Boundary("input", FIELDS, s, h)


def _cand(rid: str, rule: str, strength: float = 0.7) -> Candidate:
    return Candidate(
        id=rid, rule=rule, profile="llm", fields=("amount",), message=f"m {rid}", basis="b", strength=strength
    )


def _run(
    cands: list[Candidate], sample: list[float] | None = None, holdout: list[float] | None = None
) -> BoundaryResult:
    b = _boundary(sample or [1.0, 2.0, 3.0, 4.0], holdout or [1.5, 2.5])
    return infer_boundary(b, None, QUIET, extra=cands)


def test_a_candidate_that_holds_everywhere_is_offered_with_its_evidence() -> None:
    r = _run([_cand("pos", "amount > 0.0")])
    (p,) = r.proposals
    assert (p.id, p.target, p.rule, p.message, p.profile) == ("pos", "input", "amount > 0.0", "m pos", "llm")
    assert (p.sample_violations, p.holdout_violations, p.confidence) == (0, 0, pytest.approx(0.7))
    assert r.refused == [] and r.holdout_size == 2 and r.false_alarms == 0 and r.false_alarm_rate == 0.0


def test_a_rule_that_fails_the_gates_is_refused_with_the_reason() -> None:
    r = _run([_cand("bad", "amount + 1 > 0.5"), _cand("unknown", "x > 1.0")])
    assert r.proposals == []
    assert [(x.id, x.rule, x.profile) for x in r.refused] == [
        ("bad", "amount + 1 > 0.5", "llm"),
        ("unknown", "x > 1.0", "llm"),
    ]
    assert r.refused[0].why.startswith("does not type-check: cannot compute double + int")
    assert r.refused[1].why == "reads 'x', not a field here"


def test_a_rule_that_rejects_a_good_sample_event_is_dropped_naming_it() -> None:
    r = _run([_cand("big", "amount > 1.5")])
    assert r.proposals == []
    (x,) = r.refused
    assert x.id == "big" and x.why == "dropped: it rejected the known-good event s.jsonl line 1 (amount=1.0)"


def test_a_rule_that_rejects_a_held_out_event_is_dropped_naming_it() -> None:
    r = _run([_cand("small", "amount < 4.5")], sample=[1.0, 2.0, 3.0, 4.0], holdout=[1.0, 5.0])
    assert r.proposals == []
    assert r.refused[0].why == "dropped: it rejected the known-good event h.jsonl line 2 (amount=5.0)"


def test_confidence_under_the_minimum_is_refused() -> None:
    floor = QUIET.min_confidence
    r = _run([_cand("weak", "amount > 0.0", strength=floor - 0.01)])
    assert r.proposals == [] and r.refused[0].why == f"confidence {floor - 0.01:.2f} under {floor}"
    assert _run([_cand("ok", "amount > 0.0", strength=floor)]).proposals[0].confidence == floor


def test_the_same_rule_twice_is_offered_once() -> None:
    r = _run([_cand("a", "amount > 0.0"), _cand("b", "amount > 0.0")])
    assert [p.id for p in r.proposals] == ["a"]


def test_the_false_alarm_rate_is_false_alarms_over_held_out_events() -> None:
    assert BoundaryResult("t", holdout_size=4, false_alarms=1).false_alarm_rate == 0.25
    assert BoundaryResult("t").false_alarm_rate == 0.0
