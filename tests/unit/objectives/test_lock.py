"""The lock file: round trip, re-inference that respects the user's choices, merging into the IR."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dana_workflows.objectives.proposal import Proposal
from dana_workflows.objectives.review import accept, edit, merge_proposals, pick, pin, reject
from dana_workflows.workflow.ir import LLMStepIR, ValidateStepIR
from dana_workflows.workflow.objectives_lock import (
    ObjectivesLock,
    lock_path,
    read_lock,
    target_fields,
    write_lock,
)
from dana_workflows.workflow.spec import load_spec, parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: shop
input: {amount: double, currency: string}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
  - assess:
      llm: {prompt: "rate {{ amount }}", output: {risk: string}}
"""


def proposal(rid: str, rule: str, target: str = "input") -> Proposal:
    return Proposal(rid, target, rule, f"{rid} message", "range", ("amount",), "basis", 100, 0, 0, 0.9)


def test_reinference_never_changes_edited_or_pinned_rules(tmp_path: Path) -> None:
    ir = parse_spec(SPEC)
    lock = ObjectivesLock(workflow="shop")
    merge_proposals(
        lock,
        [
            proposal("a", "amount <= 10.0"),
            proposal("b", "amount <= 20.0"),
            proposal("c", "amount <= 30.0"),
            proposal("d", "amount <= 40.0"),
        ],
    )
    (a,) = pick(lock, ["a"])
    edit(a, "amount <= 11.0", target_fields(ir)["input"])
    pin(pick(lock, ["b"]))
    accept(pick(lock, ["c"]))
    reject(pick(lock, ["d"]))
    path = tmp_path / "shop.objectives.lock.yaml"
    write_lock(path, lock)
    again = read_lock(path)
    assert again == lock  # round trip
    changes = merge_proposals(again, [proposal(x, "amount <= 99.0") for x in "abcde"])
    by_id = {r.id: r for r in again.rules}
    assert (by_id["a"].rule, by_id["a"].origin, by_id["a"].version) == ("amount <= 11.0", "edited", 2)
    assert (by_id["b"].rule, by_id["b"].status) == ("amount <= 20.0", "pinned")
    assert by_id["c"].rule == "amount <= 30.0" and by_id["c"].pending is not None  # waits for review
    assert by_id["d"].status == "rejected" and by_id["d"].pending is not None
    assert by_id["e"].status == "proposed"
    assert {(c.sign, c.id) for c in changes} == {("=", "a"), ("=", "b"), ("~", "c"), ("~", "d"), ("+", "e")}
    accept(pick(again, ["c"]))
    assert (by_id["c"].rule, by_id["c"].version, by_id["c"].status) == ("amount <= 99.0", 2, "accepted")


def _spec_with_lock(tmp_path: Path, lock: ObjectivesLock) -> Path:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC)
    write_lock(lock_path(spec), lock)
    return spec


def test_accepted_rules_become_ordinary_rules_with_origin_and_version(tmp_path: Path) -> None:
    lock = ObjectivesLock(workflow="shop")
    merge_proposals(
        lock,
        [
            proposal("amount_range", "amount <= 500.0"),
            proposal("proposed_only", "amount < 9.0"),
            proposal("risk_domain", 'risk in ["low", "high"]', target="step:assess"),
        ],
    )
    accept(pick(lock, ["amount_range", "risk_domain"]))
    ir = load_spec(_spec_with_lock(tmp_path, lock))
    head = ir.steps[0]
    assert isinstance(head, ValidateStepIR) and head.name == "input_objectives"
    assert [r.id for r in head.rules] == ["amount_range@inferred.v1"]  # the proposed one is not enforced
    llm = next(s for s in ir.steps if isinstance(s, LLMStepIR))
    assert [r.id for r in llm.enforce] == ["risk_domain@inferred.v1"]


def test_a_lock_broken_by_hand_is_ignored_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock = ObjectivesLock(workflow="shop")
    merge_proposals(lock, [proposal("amount_range", "amount <= 500.0")])
    accept(pick(lock, ["amount_range"]))
    spec = _spec_with_lock(tmp_path, lock)
    path = lock_path(spec)
    path.write_text(path.read_text().replace("amount <= 500.0", "amount <=> 500.0"))
    with caplog.at_level(logging.WARNING, logger="dana_workflows.objectives"):
        ir = load_spec(spec)
    assert [s.name for s in ir.steps] == ["check", "assess"]  # explicit objectives only
    assert "changed by hand" in caplog.text and "amount_range" in caplog.text
    path.write_text("rules: [unclosed")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dana_workflows.objectives"):
        assert [s.name for s in load_spec(spec).steps] == ["check", "assess"]
    assert "not valid YAML" in caplog.text


ROUTED = """
workflow: shop
input: {amount: double}
steps:
  - norm: {transform: {set: {cents: {expr: "int(amount * 100.0)", type: long}}}}
  - triage:
      route:
        review:
          when: "amount > 10.0"
          steps:
            - assess: {llm: {prompt: "rate {{ amount }}", output: {risk: string}}}
        auto: "true"
"""


def locked(target: str, rid: str, rule: str) -> ObjectivesLock:
    lock = ObjectivesLock(workflow="shop")
    merge_proposals(lock, [proposal(rid, rule, target=target)])
    accept(pick(lock, [rid]))
    return lock


def test_step_targets_merge_after_the_step_and_into_branch_llm_steps() -> None:
    from dana_workflows.workflow.objectives_lock import lock_problems, merge_lock

    ir = parse_spec(ROUTED)
    lock = locked("step:norm", "cents_range", "cents >= 0 && cents <= 100000")
    merge_proposals(lock, [proposal("risk_domain", 'risk in ["low"]', target="step:triage.review.assess")])
    accept(pick(lock, ["risk_domain"]))
    assert lock_problems(lock, ir) == []
    merged = merge_lock(ir, lock)
    assert [s.name for s in merged.steps] == ["norm", "norm_objectives", "triage"]
    route = merged.steps[2]
    assess = route.branches[0].steps[0]  # type: ignore[union-attr]
    assert isinstance(assess, LLMStepIR) and [r.id for r in assess.enforce] == ["risk_domain@inferred.v1"]


def test_every_lock_problem_is_named() -> None:
    from dana_workflows.workflow.objectives_lock import lock_problems

    ir = parse_spec(ROUTED)
    lock = ObjectivesLock(workflow="other")
    merge_proposals(
        lock,
        [
            proposal("ghost_step", "amount > 0.0", target="step:nope"),
            proposal("ghost_field", "premium > 0.0"),
            proposal("bad_cel", "amount >"),
        ],
    )
    accept(pick(lock, [], everything=True))
    lock.rules.append(lock.rules[1].model_copy())
    problems = "\n".join(lock_problems(lock, ir))
    assert "written for workflow 'other'" in problems
    assert "rule 'ghost_step' (step:nope): no such target" in problems
    assert "reads premium, not a field at input" in problems
    assert "not a valid CEL expression" in problems
    assert "the id appears twice" in problems
