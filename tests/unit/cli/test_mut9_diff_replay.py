"""`dana-wf diff`'s comparison of two replays (cli/diff_replay.py's docstring, docs/changes.md "causes"),
on audit rows written by hand: each event's decision, and the cause of a changed one (route:<step>,
rule:<step>.<rule>, constraint:<id>, input:schema, step:<step>, llm:<step>) with its note."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.cli.diff_replay import Journey, changed_parts, compare, journeys
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit


def row(run: str, seq: int, step: str, kind: str, decision: str = "", **kw: Any) -> AuditRow:
    results = kw.pop("results", None)
    details = kw.pop("details", None)
    return AuditRow(
        "w",
        1,
        run,
        seq,
        f"{run}-{seq}",
        step,
        kind,
        decision,
        rule_results=json.dumps(results) if results is not None else "[]",
        details=json.dumps(details) if details is not None else "{}",
    )


def received(run: str, ordinal: int) -> AuditRow:
    return row(run, 0, "ingest", "received", details={"ordinal": ordinal})


def verdict(rule: str, passed: bool, severity: str = "reject") -> dict[str, Any]:
    return {"rule_id": rule, "passed": passed, "severity": severity}


# --- one journey's decision --------------------------------------------------------------------------


def test_a_decision_says_where_the_event_ended_and_the_branches_it_took() -> None:
    def journey(
        outcome: str, at: str = "", routes: tuple[str, ...] = (), failed: tuple[str, ...] = ()
    ) -> str:
        return Journey(0, outcome, at, routes, failed, ()).decision

    assert journey("out") == "out"
    assert journey("out", routes=("triage=auto", "size=small")) == "out via triage=auto, size=small"
    assert (
        journey("rejected", "check", failed=("check.a", "check.b")) == "rejected at check (check.a, check.b)"
    )
    assert (
        journey("rejected", "check", ("triage=review",))
        == "rejected at check (no rule result) via triage=review"
    )
    assert journey("dlq", "assess", ("triage=review",)) == "dlq at assess via triage=review"


def test_journeys_from_audit_rows() -> None:
    rows = [
        # run a: routed, then rejected by one reject rule (a warn rule failing does not count)
        row(
            "a",
            3,
            "check",
            "rejected",
            results=[verdict("pos", False), verdict("soft", False, "warn"), verdict("ok", True)],
        ),
        received("a", 1),
        row("a", 1, "triage", "routed", "review"),
        row("a", 2, "check", "emitted"),
        # run b: completed on the out topic; a drift row of its run is not part of the journey
        received("b", 0),
        row("b", 1, "triage", "routed", "auto"),
        row("b", 2, "sink", "completed", "out"),
        row("b", 3, "drift", "drift"),
        # run c: no received row first: not an event of the replay
        row("c", 0, "check", "emitted"),
        # run d: dead-lettered at an llm step that found no recorded reply
        received("d", 2),
        row("d", 1, "assess", "error", details={"dwf.llm.outcome": "error"}),
        row("d", 2, "assess", "dlq"),
    ]
    replay = journeys(rows)
    assert sorted(replay.journeys) == [0, 1, 2]
    assert replay.journeys[1].decision == "rejected at check (pos) via triage=review"
    assert replay.journeys[0].decision == "out via triage=auto"
    assert [r.kind for r in replay.journeys[0].rows] == ["received", "routed", "completed"]
    assert replay.journeys[2].decision == "dlq at assess"
    assert replay.outcomes == {"rejected": 1, "out": 1, "dlq": 1}
    assert replay.llm_misses == 1


def test_a_cached_llm_reply_is_not_a_miss() -> None:
    rows = [
        received("a", 0),
        row("a", 1, "assess", "error", details={"dwf.llm.outcome": "error", "dwf.llm.cache_hit": True}),
        row("a", 2, "assess", "dlq"),
    ]
    assert journeys(rows).llm_misses == 0


# --- the cause of a change ---------------------------------------------------------------------------

OLD = """\
workflow: w
input: {amount: double}
steps:
  - check:
      validate: [{id: pos, rule: "amount > 0.0"}]
  - triage:
      route:
        auto: "amount < 100.0"
        review: "true"
"""


def diff(
    old_rows: list[AuditRow], new_rows: list[AuditRow], new_spec: str = OLD
) -> tuple[tuple[str, ...], str, str, str]:
    changes = compare(
        journeys(old_rows), journeys(new_rows), parse_spec(OLD), parse_spec(new_spec), ["line0", "line1"]
    )
    (change,) = changes
    assert (change.index, change.line, change.run_id) == (0, "line0", "r")
    return change.causes, change.detail, change.old, change.new


def routed(branch: str) -> list[AuditRow]:
    return [
        received("r", 0),
        row("r", 1, "check", "emitted", results=[verdict("pos", True)]),
        row("r", 2, "triage", "routed", branch),
        row("r", 3, "sink", "completed", "out"),
    ]


def test_an_unchanged_decision_is_not_a_change() -> None:
    assert (
        compare(journeys(routed("auto")), journeys(routed("auto")), parse_spec(OLD), parse_spec(OLD), [])
        == []
    )


def test_a_route_that_chose_another_branch_with_its_own_text_changed() -> None:
    new = OLD.replace("amount < 100.0", "amount < 10.0")
    assert diff(routed("auto"), routed("review"), new) == (
        ("route:triage",),
        "auto -> review",
        "out via triage=auto",
        "out via triage=review",
    )


def test_a_route_with_the_same_text_names_the_steps_that_changed_before_it() -> None:
    new = OLD.replace("amount > 0.0", "amount > 1.0")
    causes, detail, _, _ = diff(routed("auto"), routed("review"), new)
    assert causes == ("route:triage",)
    assert detail == "auto -> review (same text in both versions; its inputs changed in check)"
    causes, detail, _, _ = diff(routed("auto"), routed("review"))
    assert detail == "auto -> review (same text in both versions)"


def rejected_by(rule: str, passed_old: bool, step: str = "check") -> tuple[list[AuditRow], list[AuditRow]]:
    old = [
        received("r", 0),
        row("r", 1, step, "emitted" if passed_old else "rejected", results=[verdict(rule, passed_old)]),
    ]
    new = [
        received("r", 0),
        row("r", 1, step, "rejected" if passed_old else "emitted", results=[verdict(rule, not passed_old)]),
    ]
    if passed_old:
        old.append(row("r", 2, "sink", "completed", "out"))
    else:
        new.append(row("r", 2, "sink", "completed", "out"))
    return old, new


def test_a_rule_whose_verdict_changed() -> None:
    old, new = rejected_by("pos", True)
    new_spec = OLD.replace("amount > 0.0", "amount > 5.0")
    assert diff(old, new, new_spec) == (
        ("rule:check.pos",),
        "pos: pass -> fail",
        "out",
        "rejected at check (pos)",
    )


def test_an_objective_constraint_at_enforce_objective() -> None:
    old, new = rejected_by("cap", True, "enforce_objective")
    causes, detail, _, _ = diff(old, new)
    assert causes == ("constraint:cap",)
    assert detail == "cap: pass -> fail (same text in both versions)"


def test_the_input_schema_deciding_differently() -> None:
    old = [received("r", 0), row("r", 1, "sink", "completed", "out")]
    new = [received("r", 0), row("r", 1, "ingest", "rejected", results=[verdict("schema.amount", False)])]
    causes, detail, _, new_decision = diff(old, new)
    assert (causes, detail) == (("input:schema",), "the input schema decided differently: schema.amount")
    assert new_decision == "rejected at ingest (schema.amount)"


def test_a_route_condition_that_could_not_be_evaluated() -> None:
    old = routed("auto")
    new = [
        received("r", 0),
        row("r", 1, "check", "emitted", results=[verdict("pos", True)]),
        row("r", 2, "triage", "rejected", results=[verdict("triage.no_branch", False)]),
    ]
    causes, detail, _, _ = diff(old, new)
    assert causes == ("route:triage",)
    assert detail == "triage.no_branch: not evaluated -> fail (same text in both versions)"


def test_a_step_only_the_new_version_has_stopped_the_event() -> None:
    new_spec = OLD.replace("steps:\n", 'steps:\n  - extra: {validate: [{id: x, rule: "amount > 50.0"}]}\n')
    old = routed("auto")
    new = [received("r", 0), row("r", 1, "extra", "rejected", results=[verdict("x", False)])]
    causes, detail, _, _ = diff(old, new, new_spec)
    assert causes == ("rule:extra.x",)
    assert detail == "x: not evaluated -> fail"


def test_a_removed_step_that_had_stopped_the_event() -> None:
    old = [received("r", 0), row("r", 1, "gone", "dlq")]
    new = routed("auto")
    assert diff(old, new)[:2] == (("step:gone",), "the step that dlq it is gone")


def test_a_step_that_failed_in_one_version_only() -> None:
    old = [received("r", 0), row("r", 1, "check", "emitted"), row("r", 2, "sink", "completed", "out")]
    new = [received("r", 0), row("r", 1, "check", "dlq")]
    assert diff(old, new)[:2] == (("step:check",), "emitted -> dlq (same text in both versions)")


def test_a_missing_llm_reply_is_never_taken_for_a_rule() -> None:
    old = [received("r", 0), row("r", 1, "assess", "emitted"), row("r", 2, "sink", "completed", "out")]
    new = [
        received("r", 0),
        row("r", 1, "assess", "dlq", details={"dwf.llm.outcome": "error"}),
    ]
    assert diff(old, new)[:2] == (
        ("llm:assess",),
        "no recorded LLM reply for the new prompt: the step ran without one",
    )


def test_changed_parts_name_what_was_added_removed_or_changed() -> None:
    new = OLD.replace("amount > 0.0", "amount > 1.0").replace(
        '        review: "true"\n', '        rest: "true"\n'
    )
    new = new.replace("input: {amount: double}", "input: {amount: double, note: string?}")
    new = new + '  - final: {validate: [{id: f, rule: "true"}]}\n'
    parts = changed_parts(parse_spec(OLD), parse_spec(new))
    assert parts == {
        "input:schema": "changed",
        "step:check": "changed",
        "rule:check.pos": "changed",
        "step:triage": "changed",
        "route:triage": "changed",
        "step:final": "added",
        "rule:final.f": "added",
    }
    assert changed_parts(parse_spec(new), parse_spec(OLD))["step:final"] == "removed"


def test_a_step_only_the_new_version_has_that_dead_letters_the_event() -> None:
    new_spec = OLD.replace("steps:\n", 'steps:\n  - extra: {validate: [{id: x, rule: "amount > 50.0"}]}\n')
    new = [received("r", 0), row("r", 1, "extra", "dlq")]
    assert diff(routed("auto"), new, new_spec)[:2] == (("step:extra",), " -> dlq")


def test_journeys_that_differ_in_no_single_step() -> None:
    old = [received("r", 0), row("r", 1, "gone", "routed", "a"), row("r", 2, "sink", "completed", "out")]
    new = [received("r", 0), row("r", 2, "sink", "completed", "out")]
    assert diff(old, new)[:2] == (("step:?",), "the journeys differ in a way no single step explains")


def test_a_rules_own_step_changing_elsewhere_is_not_an_upstream_change() -> None:
    new_spec = OLD.replace(
        '[{id: pos, rule: "amount > 0.0"}]', '[{id: pos, rule: "amount > 0.0"}, {id: b, rule: "true"}]'
    )
    old, new = rejected_by("pos", True)
    assert diff(old, new, new_spec)[:2] == (
        ("rule:check.pos",),
        "pos: pass -> fail (same text in both versions)",
    )


def test_a_change_past_the_end_of_the_lines_has_no_line() -> None:
    changes = compare(
        journeys(routed("auto")), journeys(routed("review")), parse_spec(OLD), parse_spec(OLD), []
    )
    assert [c.line for c in changes] == [""]


def test_changed_parts_look_inside_branches() -> None:
    old = OLD.replace(
        'review: "true"', 'review: {when: "true", steps: [{inner: {validate: [{id: i, rule: "true"}]}}]}'
    )
    new = old.replace('{id: i, rule: "true"}', '{id: i, rule: "false"}')
    parts = changed_parts(parse_spec(old), parse_spec(new))
    assert parts["step:inner"] == "changed" and parts["rule:inner.i"] == "changed"
