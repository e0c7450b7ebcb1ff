"""The objectives lock file next to a spec (workflow/objectives_lock.py, docs/objectives.md): where it is,
what a rule's hash covers, which rules are enforced and where they land in the IR, and that a broken lock
is ignored as a whole with one warning naming every problem."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.workflow.ir import LLMStepIR, RouteStepIR, ValidateStepIR
from dana_workflows.workflow.objectives_lock import (
    LockedRule,
    LockError,
    ObjectivesLock,
    lock_path,
    lock_problems,
    merge_lock,
    read_lock,
    rule_hash,
    target_fields,
    write_lock,
)
from dana_workflows.workflow.spec import load_spec, parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: claims
input: {amount: double, currency: string}
steps:
  - check: {validate: [{id: pos, rule: "amount > 0.0"}]}
  - assess: {llm: {prompt: p, output: {risk: string}}}
  - triage:
      route:
        big: {when: "amount > 100.0", steps: [{inner: {validate: [{id: x, rule: "true"}]}}]}
        rest: "true"
"""


def locked(rule_id: str, target: str, rule: str, **kw: Any) -> LockedRule:
    severity = kw.pop("severity", "reject")
    data: dict[str, Any] = {
        "origin": "inferred",
        "status": "accepted",
        "hash": rule_hash(target, rule, severity),
    }
    data.update(kw)
    return LockedRule(id=rule_id, target=target, rule=rule, severity=severity, **data)


def test_the_hash_covers_target_rule_and_severity() -> None:
    expected = "sha256:" + hashlib.sha256(b"input\namount > 0.0\nreject").hexdigest()
    assert rule_hash("input", "amount > 0.0") == expected
    assert rule_hash("input", "amount > 0.0", "warn") != expected
    assert rule_hash("step:check", "amount > 0.0") != expected


def test_the_lock_sits_next_to_the_spec() -> None:
    assert lock_path("specs/claims.yaml") == Path("specs/claims.objectives.lock.yaml")
    assert lock_path("a.b.yml") == Path("a.b.objectives.lock.yaml")
    assert lock_path("plain") == Path("plain.objectives.lock.yaml")


def test_which_rules_are_enforced_and_how_the_audit_names_them() -> None:
    assert locked("r", "input", "true", version=3).audited_id == "r@inferred.v3"
    assert locked("r", "input", "true").enforced and locked("r", "input", "true", status="pinned").enforced
    assert not locked("r", "input", "true", status="proposed").enforced
    assert not locked("r", "input", "true", status="rejected").enforced
    assert not locked("r", "input", "true", origin="written").enforced  # written rules live in the spec


def test_a_lock_written_reads_back_the_same(tmp_path: Path) -> None:
    lock = ObjectivesLock(workflow="claims", rules=[locked("pos", "input", "amount > 0.0", message="m")])
    path = tmp_path / "claims.objectives.lock.yaml"
    write_lock(path, lock)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Objectives of workflow 'claims', reviewed with `dana-wf objectives`.\n")
    assert read_lock(path) == lock


def test_a_lock_that_cannot_be_used_says_where(tmp_path: Path) -> None:
    missing = tmp_path / "nope.objectives.lock.yaml"
    with pytest.raises(LockError) as info:
        read_lock(missing)
    assert str(info.value) == f"{missing}: cannot read (No such file or directory)"
    broken = tmp_path / "broken.yaml"
    broken.write_text("workflow: [claims\n")
    with pytest.raises(LockError) as info:
        read_lock(broken)
    assert str(info.value).endswith("; fix it or delete the file and infer again")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "workflow: claims\nrules:\n"
        "  - {id: amount_range, rule: 'true', origin: guessed, status: accepted, hash: h}\n"
    )
    with pytest.raises(LockError) as info:
        read_lock(wrong)
    assert str(info.value).startswith(f"{wrong}: rules.0.origin (amount_range): Input should be ")


def test_the_targets_and_the_fields_their_rules_may_read() -> None:
    targets = target_fields(parse_spec(SPEC))
    assert sorted(targets) == ["input", "step:assess", "step:check", "step:triage", "step:triage.big.inner"]
    assert sorted(targets["input"]) == ["amount", "currency"]
    assert sorted(targets["step:assess"]) == ["amount", "currency", "risk"]
    assert "route" in targets["step:triage.big.inner"] and "route" in targets["step:triage"]


def test_every_problem_of_a_lock_is_named() -> None:
    ir = parse_spec(SPEC)
    bad_hash = locked("h", "input", "amount > 1.0").model_copy(update={"rule": "amount > 2.0"})
    lock = ObjectivesLock(
        workflow="other",
        rules=[
            locked("d", "input", "amount > 0.0"),
            locked("d", "input", "amount > 0.0"),
            bad_hash,
            locked("t", "step:nowhere", "true"),
            locked("c", "input", "amount >"),
            locked("f", "input", "risk != null && amount > 0.0"),
            locked("n", "input", "currency != null && true"),  # reserved words are not fields
            locked("p", "step:nowhere", "true", status="proposed"),  # not enforced: not checked
        ],
    )
    problems = lock_problems(lock, ir)
    assert problems[0] == "written for workflow 'other', the spec is 'claims'"
    assert problems[1] == "rule 'd' (input): the id appears twice for this target"
    assert (
        problems[2]
        == "rule 'h' (input): changed by hand (its hash does not match); use `dana-wf objectives edit`"
    )
    assert problems[3] == (
        "rule 't' (step:nowhere): no such target; targets are "
        "input, step:assess, step:check, step:triage, step:triage.big.inner"
    )
    assert problems[4].startswith("rule 'c' (input): not a valid CEL expression")
    assert problems[5] == "rule 'f' (input): reads risk, not a field at input"
    assert len(problems) == 6


def test_enforced_rules_land_where_their_target_is() -> None:
    ir = parse_spec(SPEC)
    lock = ObjectivesLock(
        workflow="claims",
        rules=[
            locked("in1", "input", "amount > 0.0", version=2, message="positive"),
            locked("c1", "step:check", "currency != ''"),
            locked("a1", "step:assess", "risk != null", severity="warn"),
            locked("i1", "step:triage.big.inner", "amount > 100.0"),
            locked("skip", "input", "false", status="proposed"),
        ],
    )
    merged = merge_lock(ir, lock)
    names = [s.name for s in merged.steps]
    assert names == ["input_objectives", "check", "check_objectives", "assess", "triage"]
    head = merged.steps[0]
    assert isinstance(head, ValidateStepIR)
    short = rule_hash("input", "amount > 0.0")[7:19]
    assert [(r.id, r.expr, r.message, r.severity) for r in head.rules] == [
        ("in1@inferred.v2", "amount > 0.0", f"positive [inferred v2 {short}]", "reject")
    ]
    after_check = merged.steps[2]
    assert isinstance(after_check, ValidateStepIR) and [r.id for r in after_check.rules] == ["c1@inferred.v1"]
    assert after_check.rules[0].message.startswith("currency != '' [inferred v1 ")  # no message: the rule
    assess = merged.steps[3]
    assert isinstance(assess, LLMStepIR)
    assert [(r.id, r.severity) for r in assess.enforce] == [("a1@inferred.v1", "warn")]
    triage = merged.steps[4]
    assert isinstance(triage, RouteStepIR)
    assert [s.name for s in triage.branches[0].steps] == ["inner", "inner_objectives"]
    nothing = ObjectivesLock(workflow="claims", rules=[locked("skip", "input", "false", status="rejected")])
    assert merge_lock(ir, nothing) is ir


def test_load_spec_applies_a_good_lock_and_ignores_a_broken_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = tmp_path / "claims.yaml"
    spec.write_text(SPEC)
    assert load_spec(spec).steps[0].name == "check"  # no lock: the spec as written
    lock = ObjectivesLock(workflow="claims", rules=[locked("in1", "input", "amount > 0.0")])
    write_lock(tmp_path / "claims.objectives.lock.yaml", lock)
    assert load_spec(spec).steps[0].name == "input_objectives"
    broken = ObjectivesLock(
        workflow="claims", rules=[locked("in1", "input", "amount > 0.0"), locked("x", "input", "nope > 1")]
    )
    write_lock(tmp_path / "claims.objectives.lock.yaml", broken)
    with caplog.at_level(logging.WARNING, logger="dana_workflows.objectives"):
        steps = load_spec(spec).steps
    assert steps[0].name == "check"  # not half-applied
    assert "objectives lock" in caplog.text and "ignored" in caplog.text
    assert "rule 'x' (input): reads nope, not a field at input" in caplog.text
    (tmp_path / "claims.objectives.lock.yaml").write_text("rules: [\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dana_workflows.objectives"):
        assert load_spec(spec).steps[0].name == "check"
    assert "objectives lock ignored, the workflow runs on its explicit objectives" in caplog.text
