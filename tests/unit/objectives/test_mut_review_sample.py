"""Review verbs and merging (objectives/review.py), samples (sample.py), rule verdicts (refine.py).

Rules from the module docstrings: re-inference never changes a rule the user edited or pinned; a new
proposal for an accepted or rejected rule waits as a pending change; a proposed rule simply follows the
sample (version + 1); accept applies a pending change; ``target/id`` names one rule; an edit passes the
same gates as an inferred rule. A sample keeps only events whose declared fields are present and well
typed (bool is not a number), unwraps an earlier run's output record, and names the first problem.
A rule that errors on an event rejects it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.objectives.proposal import Proposal
from dana_workflows.objectives.refine import failing, passes
from dana_workflows.objectives.review import (
    ReviewError,
    accept,
    edit,
    merge_proposals,
    pick,
    pin,
    reject,
    written_rules,
)
from dana_workflows.objectives.sample import Sample, SampleError, fits, load_sample, parse_sample, split
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.ir import (
    BranchIR,
    FieldIR,
    ObjectiveIR,
    RouteStepIR,
    RuleIR,
    ValidateStepIR,
    WorkflowIR,
)
from dana_workflows.workflow.objectives_lock import LockedRule, ObjectivesLock, PendingChange, rule_hash

pytestmark = pytest.mark.unit

AMOUNT = FieldIR(name="amount", type="double")
FIELDS = {"amount": AMOUNT}


def _p(rid: str, rule: str, target: str = "input", message: str = "m") -> Proposal:
    return Proposal(
        id=rid,
        target=target,
        rule=rule,
        message=message,
        profile="range",
        fields=("amount",),
        basis="b",
        support=10,
        sample_violations=0,
        holdout_violations=0,
        confidence=0.87654,
    )


def _rule(
    rid: str, rule: str, status: str = "proposed", origin: str = "inferred", target: str = "input"
) -> LockedRule:
    return LockedRule(
        id=rid,
        target=target,
        rule=rule,
        origin=origin,
        status=status,
        hash=rule_hash(target, rule),
        message="old",
    )  # type: ignore[arg-type]


# -- merging ---------------------------------------------------------------------------------------------


def test_a_new_proposal_is_added_as_proposed_with_its_hash_and_evidence() -> None:
    lock = ObjectivesLock(workflow="wf")
    changes = merge_proposals(lock, [_p("r1", "amount > 0.0")])
    assert [(c.sign, c.target, c.id, c.old, c.new, c.why) for c in changes] == [
        ("+", "input", "r1", "", "amount > 0.0", "new proposal")
    ]
    r = lock.rules[0]
    assert (r.status, r.origin, r.version) == ("proposed", "inferred", 1)
    assert r.hash == rule_hash("input", "amount > 0.0")
    assert r.evidence["confidence"] == 0.877 and "notes" not in r.evidence


def test_a_proposed_rule_follows_the_sample_and_counts_a_version() -> None:
    lock = ObjectivesLock(workflow="wf", rules=[_rule("r1", "amount > 0.0")])
    changes = merge_proposals(lock, [_p("r1", "amount > 1.0", message="")])
    assert [(c.sign, c.old, c.new, c.why) for c in changes] == [
        ("~", "amount > 0.0", "amount > 1.0", "proposal changed")
    ]
    r = lock.rules[0]
    assert (r.rule, r.version, r.message) == ("amount > 1.0", 2, "old")  # an empty message keeps the old one
    assert r.hash == rule_hash("input", "amount > 1.0")


def test_the_same_rule_again_refreshes_evidence_and_clears_a_pending_change() -> None:
    r = _rule("r1", "amount > 0.0", status="accepted")
    r.pending = PendingChange(rule="amount > 5.0")
    lock = ObjectivesLock(workflow="wf", rules=[r])
    assert merge_proposals(lock, [_p("r1", "amount > 0.0")]) == []
    assert r.pending is None and r.evidence["support"] == 10 and r.version == 1


@pytest.mark.parametrize("status", ["accepted", "rejected"])
def test_a_reviewed_rule_gets_a_pending_change_not_a_new_rule(status: str) -> None:
    r = _rule("r1", "amount > 0.0", status=status)
    lock = ObjectivesLock(workflow="wf", rules=[r])
    changes = merge_proposals(lock, [_p("r1", "amount > 2.0", message="new msg")])
    assert [(c.sign, c.why) for c in changes] == [("~", f"pending: still {status}")]
    assert r.rule == "amount > 0.0" and r.version == 1
    assert r.pending is not None and (r.pending.rule, r.pending.message) == ("amount > 2.0", "new msg")


@pytest.mark.parametrize(
    ("status", "origin", "why"),
    [("pinned", "inferred", "kept: pinned"), ("accepted", "edited", "kept: edited by you")],
)
def test_edited_and_pinned_rules_are_never_changed(status: str, origin: str, why: str) -> None:
    r = _rule("r1", "amount > 0.0", status=status, origin=origin)
    lock = ObjectivesLock(workflow="wf", rules=[r])
    changes = merge_proposals(lock, [_p("r1", "amount > 3.0")])
    assert [(c.sign, c.old, c.new, c.why) for c in changes] == [("=", "amount > 0.0", "amount > 3.0", why)]
    assert r.rule == "amount > 0.0" and r.pending is None
    assert merge_proposals(lock, [_p("r1", "amount > 0.0")]) == []  # same rule: nothing to say


def test_every_proposal_is_merged_whatever_came_before_it() -> None:
    lock = ObjectivesLock(
        workflow="wf",
        rules=[_rule("same", "amount > 0.0"), _rule("mine", "amount > 0.0", origin="edited")],
    )
    proposals = [_p("same", "amount > 0.0"), _p("mine", "amount > 5.0"), _p("new", "amount < 9.0")]
    changes = merge_proposals(lock, proposals)
    assert [(c.sign, c.id) for c in changes] == [("=", "mine"), ("+", "new")]
    assert [r.id for r in lock.rules] == ["same", "mine", "new"]


def test_a_proposal_no_longer_made_is_flagged_only_while_unreviewed() -> None:
    lock = ObjectivesLock(
        workflow="wf",
        rules=[
            _rule("gone", "amount > 0.0"),
            _rule("kept", "amount > 0.0", status="accepted"),
            _rule("mine", "amount > 0.0", origin="edited"),
        ],
    )
    changes = merge_proposals(lock, [])
    assert [(c.sign, c.id, c.old, c.new, c.why) for c in changes] == [
        ("?", "gone", "amount > 0.0", "", "no longer proposed by the sample")
    ]


def test_the_same_id_on_another_target_is_another_rule() -> None:
    lock = ObjectivesLock(workflow="wf", rules=[_rule("r1", "amount > 0.0")])
    changes = merge_proposals(lock, [_p("r1", "amount > 9.0", target="step:t"), _p("r1", "amount > 0.0")])
    assert [c.sign for c in changes] == ["+"]
    assert len(lock.rules) == 2


# -- verbs -----------------------------------------------------------------------------------------------


def _lock() -> ObjectivesLock:
    return ObjectivesLock(
        workflow="wf",
        rules=[
            _rule("a", "amount > 0.0"),
            _rule("b", "amount > 0.0", target="step:x"),
            _rule("b", "amount > 1.0", target="step:y"),
            _rule("w", "amount > 0.0", origin="written", status="accepted"),
        ],
    )


def test_pick_by_id_or_target_slash_id_and_everything_but_written() -> None:
    lock = _lock()
    assert [r.id for r in pick(lock, ["a"])] == ["a"]
    assert [r.target for r in pick(lock, ["step:y/b"])] == ["step:y"]
    assert [r.id for r in pick(lock, [], everything=True)] == ["a", "b", "b"]
    with pytest.raises(ReviewError) as e:
        pick(lock, ["b"])
    assert str(e.value) == "'b' names several rules; say which: step:x/b, step:y/b"
    with pytest.raises(ReviewError) as e:
        pick(lock, ["zz"])
    assert str(e.value) == "no rule 'zz' in the lock file (rules: a, b, w)"
    with pytest.raises(ReviewError, match=r"\(rules: none\)"):
        pick(ObjectivesLock(workflow="wf"), ["a"])
    with pytest.raises(ReviewError, match="no rule 'step:z/b'"):
        pick(lock, ["step:z/b"])


def test_accept_applies_a_pending_change_and_keeps_a_pin() -> None:
    r = _rule("a", "amount > 0.0", status="rejected")
    r.pending = PendingChange(rule="amount > 4.0", message="", evidence={"support": 3})
    p = _rule("p", "amount > 0.0", status="pinned")
    accept([r, p])
    assert (r.rule, r.status, r.version, r.pending, r.evidence) == (
        "amount > 4.0",
        "accepted",
        2,
        None,
        {"support": 3},
    )
    assert r.message == "old"
    assert p.status == "pinned"


def test_reject_and_pin_drop_a_pending_change() -> None:
    a, b = _rule("a", "amount > 0.0"), _rule("b", "amount > 0.0")
    a.pending = PendingChange(rule="x")
    b.pending = PendingChange(rule="y")
    reject([a])
    pin([b])
    assert (a.status, a.pending, b.status, b.pending) == ("rejected", None, "pinned", None)


def test_an_edit_must_be_a_valid_rule_and_becomes_the_users() -> None:
    r = _rule("a", "amount > 0.0")
    edit(r, "amount >= 10.0", FIELDS)
    assert (r.rule, r.origin, r.status, r.version, r.message) == (
        "amount >= 10.0",
        "edited",
        "accepted",
        2,
        "old",
    )
    edit(r, "amount >= 11.0", FIELDS, message="")
    assert r.message == "old" and r.version == 3
    edit(r, "amount >= 12.0", FIELDS, message="new")
    assert r.message == "new"
    with pytest.raises(ReviewError, match=r"^'nope > 1' "):
        edit(r, "nope > 1", FIELDS)
    assert r.rule == "amount >= 12.0"


def test_written_rules_cover_validate_steps_in_branches_and_the_objective() -> None:
    v = ValidateStepIR(name="v", rules=(RuleIR(id="pos", expr="amount > 0.0"),))
    inner = ValidateStepIR(name="iv", rules=(RuleIR(id="big", expr="amount > 9.0"),))
    route = RouteStepIR(name="r", branches=(BranchIR(name="hi", when="true", steps=(inner,)),))
    ir = WorkflowIR(
        name="wf",
        input=(AMOUNT,),
        steps=(v, route),
        objective=ObjectiveIR(constraints=(RuleIR(id="c", expr="amount < 1e6"),)),
    )
    assert written_rules(ir) == [
        ("step:v", "pos", "amount > 0.0"),
        ("step:r.hi.iv", "big", "amount > 9.0"),
        ("objective", "c", "amount < 1e6"),
    ]


# -- samples ---------------------------------------------------------------------------------------------


def test_fits_follows_the_declared_type_and_bool_is_no_number() -> None:
    def f(t: str, optional: bool = False) -> FieldIR:
        return FieldIR(name="x", type=t, optional=optional)  # type: ignore[arg-type]

    assert fits("s", f("string")) and not fits(1, f("string"))
    assert fits(True, f("boolean")) and not fits(1, f("boolean"))
    assert fits(3, f("long")) and not fits(True, f("long")) and not fits(3.0, f("int"))
    assert fits(3, f("double")) and fits(3.5, f("double")) and not fits(False, f("double"))
    assert not fits("3", f("double"))
    assert fits(None, f("string", optional=True)) and not fits(None, f("string"))


def test_a_sample_keeps_typed_events_and_names_every_other_line() -> None:
    lines = [
        '{"amount": 5}',
        "",
        "not json",
        "[1, 2]",
        '{"other": 1}',
        '{"amount": "5"}',
        '{"event_id": "e1", "payload": {"amount": 2.5, "x": 1}}',
        '{"amount": true}',
    ]
    s = parse_sample(lines, [AMOUNT], "s.jsonl")
    assert s.events == [{"amount": 5.0}, {"amount": 2.5, "x": 1}]
    assert isinstance(s.events[0]["amount"], float)  # a whole number in a double field is a float
    assert s.lines == [1, 7]
    assert s.skipped == [
        "line 3: not JSON",
        "line 4: not a JSON object",
        "line 5: missing field 'amount'",
        "line 6: field 'amount' is str, declared double",
        "line 8: field 'amount' is bool, declared double",
    ]
    assert s.where(1) == "s.jsonl line 7" and s.where(5) == "s.jsonl #6" and len(s) == 2


def test_an_optional_field_may_be_absent() -> None:
    opt = FieldIR(name="note", type="string", optional=True)
    s = parse_sample(['{"amount": 1.0}'], [AMOUNT, opt], "s")
    assert s.events == [{"amount": 1.0, "note": None}]


def test_too_few_or_no_usable_events_name_the_file_and_the_fix() -> None:
    with pytest.raises(SampleError) as e:
        parse_sample(["x"], [AMOUNT], "s.jsonl")
    assert str(e.value) == (
        "s.jsonl: no usable events (first problem: line 1: not JSON); "
        "a sample is JSON lines, one input event per line"
    )
    with pytest.raises(SampleError) as e:
        parse_sample([""], [AMOUNT], "s.jsonl")
    assert str(e.value) == "s.jsonl: no usable events; a sample is JSON lines, one input event per line"
    two = ['{"amount": 1}', '{"amount": 2}']
    assert len(parse_sample(two, [AMOUNT], "s", min_events=2)) == 2
    with pytest.raises(SampleError, match=r"^s: 2 usable events, too few to infer from; give at least 3 "):
        parse_sample(two, [AMOUNT], "s", min_events=3)


def test_an_unreadable_sample_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match=r"nope\.jsonl: cannot read the sample \(.*\); check the path"):
        load_sample(tmp_path / "nope.jsonl", [AMOUNT])
    bad = tmp_path / "bin.jsonl"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SampleError, match=r"bin\.jsonl: not UTF-8 text"):
        load_sample(bad, [AMOUNT])
    good = tmp_path / "ok.jsonl"
    good.write_text('{"amount": 1}\n', encoding="utf-8")
    assert load_sample(good, [AMOUNT]).path == str(good)


def test_split_sends_every_kth_event_to_the_held_out_part() -> None:
    whole = Sample("s", [{"i": i} for i in range(10)], lines=list(range(1, 11)))
    fit, held = split(whole, 0.3)  # k = round(1 / 0.3) = 3: events 2, 5, 8
    assert [e["i"] for e in held.events] == [2, 5, 8] and held.lines == [3, 6, 9]
    assert [e["i"] for e in fit.events] == [0, 1, 3, 4, 6, 7, 9] and fit.lines == [1, 2, 4, 5, 7, 8, 10]
    assert fit.path == held.path == "s"
    _, half = split(whole, 0.9)  # k never below 2
    assert [e["i"] for e in half.events] == [1, 3, 5, 7, 9]
    _, quarter = split(whole, 0.25)
    assert [e["i"] for e in quarter.events] == [3, 7]


# -- verdicts --------------------------------------------------------------------------------------------


def test_a_rule_passes_only_on_true_and_an_error_rejects() -> None:
    rule = compile_expr("amount > 1.0")
    assert passes(rule, {"amount": 2.0})
    assert not passes(rule, {"amount": 1.0})
    assert not passes(rule, {})  # no such field: an error, which rejects
    assert failing("amount > 1.0", [{"amount": 2.0}, {"amount": 0.5}, {}, {"amount": 1.5}]) == [1, 2]
