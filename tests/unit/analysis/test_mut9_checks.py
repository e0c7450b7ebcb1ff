"""The solver's findings (docs/changes.md, "findings"): for each code, a small spec whose defect is plain
from its text, the finding's site, message and fix, and an example event that has the property the finding
claims (checked here by hand against the spec, not by the analysis)."""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.analysis.checks import check, declared_range
from dana_workflows.analysis.findings import Finding
from dana_workflows.workflow.ir import DeriveIR, FieldIR
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

HEAD = "workflow: w\ninput: {amount: double, currency: string, n: long}\n"
RANGE_FIX = "bound the expression (or guard it with a rule before this step), or widen the declared range"


def findings(text: str) -> list[Finding]:
    checker = check(parse_spec(HEAD + text))
    assert checker.undecided == []
    return checker.findings


def site(f: Finding) -> tuple[str, str, str, str]:
    return f.code, f.key, f.message, f.fix


def example(f: Finding) -> dict[str, Any]:
    assert f.example is not None
    return f.example


def test_a_branch_shadowed_by_an_earlier_one_is_never_taken() -> None:
    (f,) = findings(
        "steps:\n  - decide:\n      route:\n"
        '        a: "amount > 10.0"\n'
        '        b: "amount > 20.0"\n'
        '        c: "true"\n'
    )
    assert site(f) == (
        "never-taken",
        "steps[0].decide.route.b",
        "branch 'b' is never taken: every event its condition admits is taken by 'a' first",
        "reorder the branches, or narrow the earlier condition",
    )
    assert example(f)["amount"] > 20.0  # b holds, and so does a, which comes first


def test_a_branch_whose_condition_cannot_hold_after_the_checks_before_it() -> None:
    text = (
        'steps:\n  - v: {validate: [{id: pos, rule: "amount > 0.0"}]}\n'
        '  - decide:\n      route:\n        a: "amount < 0.0"\n        c: "true"\n'
    )
    (f,) = findings(text)
    assert site(f) == (
        "never-taken",
        "steps[1].decide.route.a",
        "branch 'a' is never taken: its condition cannot hold for any event reaching this route "
        "(given the checks before it)",
        "correct the condition, or remove the branch",
    )
    assert example(f)["amount"] > 0.0  # an event that reaches the route


def test_overlapping_branches_neither_containing_the_other() -> None:
    (f,) = findings(
        "steps:\n  - decide:\n      route:\n"
        '        a: "amount > 10.0"\n        b: "currency == \'EUR\'"\n        c: "true"\n'
    )
    assert site(f) == (
        "overlap",
        "steps[0].decide.route.b",
        "branches 'a' and 'b' overlap and neither contains the other: an event meeting both goes to 'a' "
        "only because it is listed first",
        "make the conditions exclusive (add '&& !(...)' to one), or confirm the order is intended",
    )
    event = example(f)
    assert event["amount"] > 10.0 and event["currency"] == "EUR"  # meets both


def test_specific_before_general_and_disjoint_branches_are_not_findings() -> None:
    text = (
        "steps:\n  - decide:\n      route:\n"
        '        big: "amount > 100.0"\n        mid: "amount > 10.0"\n'  # every big event is mid too
        '        small: "amount <= 10.0"\n        rest: "true"\n'  # disjoint from mid; rest: the catch-all
    )
    assert [(f.code, f.key) for f in findings(text)] == [("never-taken", "steps[0].decide.route.rest")]


def test_rules_that_can_never_fail_or_never_pass() -> None:
    text = (
        'steps:\n  - v: {validate: [{id: pos, rule: "amount > 0.0"}]}\n'
        "  - w:\n      validate:\n"
        '        - {id: loose, rule: "amount > -1.0"}\n'
        '        - {id: never, rule: "amount > 5.0 && amount < 1.0"}\n'
        '        - {id: fine, rule: "amount > 3.0"}\n'
    )
    loose, never = findings(text)
    assert site(loose) == (
        "never-fails",
        "steps[1].w.validate[0].rule",
        "this rule can never fail: every event reaching it already satisfies it",
        "remove it, or correct it to test what was meant",
    )
    assert site(never) == (
        "never-passes",
        "steps[1].w.validate[1].rule",
        "this rule can never pass: no event reaching it satisfies it",
        "correct the rule; as written it rejects every event",
    )
    assert example(loose)["amount"] > 0.0 and example(never)["amount"] > 0.0  # both reach the step


def test_a_constraint_no_decided_event_can_meet() -> None:
    text = (
        'objective: {constraints: [{id: neg, rule: "amount < 0.0"}]}\n'
        'steps:\n  - v: {validate: [{id: pos, rule: "amount > 0.0"}]}\n'
    )
    (f,) = findings(text)
    assert site(f) == (
        "never-passes",
        "objective.constraints[0].rule",
        "this constraint can never pass: every decided event violates it",
        "correct the constraint",
    )
    assert example(f)["amount"] > 0.0


def test_a_branch_every_event_of_which_violates_a_constraint() -> None:
    text = (
        "objective: {constraints: [{id: cap, rule: \"route != 'approve' || amount <= 100.0\"}]}\n"
        'steps:\n  - decide:\n      route:\n        approve: "amount > 500.0"\n        review: "true"\n'
    )
    (f,) = findings(text)
    assert site(f) == (
        "contradicts-branch",
        "objective.constraints[0].rule",
        "every event that takes branch 'approve' of 'decide' violates this constraint",
        "change the condition of 'approve' so it implies the constraint, or the constraint",
    )
    assert example(f)["amount"] > 500.0
    # the same constraint against a branch that respects it: nothing to say
    fine = text.replace("amount > 500.0", "amount > 50.0 && amount <= 100.0")
    assert findings(fine) == []


def test_sets_that_can_leave_their_declared_range() -> None:
    text = (
        "steps:\n  - t:\n      transform:\n        set:\n"
        '          x: {expr: "amount * 2.0", type: double, min: 0, max: 100}\n'
        '          y: {expr: "n * 1000", type: int}\n'
        '          z: {expr: "amount", type: double, min: 0}\n'
        '          w: {expr: "1.0", type: double, min: 0, max: 2}\n'
    )
    x, y, z = findings(text)
    assert site(x) == (
        "out-of-range",
        "steps[0].t.transform.set.x",
        "'x' can be set outside its declared range [0.0, 100.0]",
        RANGE_FIX,
    )
    assert not 0.0 <= example(x)["amount"] * 2.0 <= 100.0
    # an int has 32 bits whatever is declared
    assert site(y)[1:3] == (
        "steps[0].t.transform.set.y",
        "'y' can be set outside its declared range [-2147483648, 2147483647]",
    )
    assert not -(2**31) <= example(y)["n"] * 1000 <= 2**31 - 1
    assert site(z)[1:3] == ("steps[0].t.transform.set.z", "'z' can be set outside its declared range [0.0, ]")
    assert example(z)["amount"] < 0.0


def test_declared_range_takes_the_sets_own_bounds_then_the_fields_then_int32() -> None:
    field = (FieldIR(name="score", type="double", minimum=300, maximum=850),)
    assert declared_range(DeriveIR(field="score", expr="1.0", type="double"), field) == (300, 850)
    own = DeriveIR(field="score", expr="1.0", type="double", minimum=0, maximum=None)
    assert declared_range(own, field) == (0, 850)
    assert declared_range(DeriveIR(field="other", expr="1.0", type="double"), field) == (None, None)
    wide = DeriveIR(field="i", expr="1", type="int", minimum=-1e12, maximum=1e12)
    assert declared_range(wide, ()) == (-(2**31), 2**31 - 1)
    narrow = DeriveIR(field="i", expr="1", type="int", minimum=-5, maximum=7)
    assert declared_range(narrow, ()) == (-5, 7)
    assert declared_range(DeriveIR(field="i", expr="1", type="int"), ()) == (-(2**31), 2**31 - 1)
