"""What the path walk knows about an event at each step (analysis/paths.py), seen through the findings it
makes possible (docs/changes.md): a rule that every event reaching it already satisfies is `never-fails`
exactly when the walk carried the fact that makes it so (a reject rule before it, a declared range, the
branch taken, a renamed or derived field), and not when nothing guarantees it (a warn rule, a model's
answer, a function's output)."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.checks import check
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

HEAD = "workflow: w\ninput: {amount: double, i: int, l: long, score: {type: long, min: 300, max: 850}}\n"


def never_fails(steps: str) -> list[str]:
    checker = check(parse_spec(HEAD + "steps:\n" + steps))
    assert checker.undecided == []
    return [f.key for f in checker.findings if f.code == "never-fails"]


def rules(*exprs: str, severity: str = "reject") -> str:
    items = ", ".join(f'{{id: r{i}, rule: "{e}", severity: {severity}}}' for i, e in enumerate(exprs))
    return f"[{items}]"


def test_a_reject_rule_filters_the_events_after_it_and_a_warn_rule_does_not() -> None:
    later = f"  - later: {{validate: {rules('amount > 5.0')}}}\n"
    assert never_fails(f"  - v: {{validate: {rules('amount > 10.0')}}}\n" + later) == [
        "steps[1].later.validate[0].rule"
    ]
    assert never_fails(f"  - v: {{validate: {rules('amount > 10.0', severity='warn')}}}\n" + later) == []


def test_declared_ranges_and_integer_widths_hold_at_ingest() -> None:
    assert never_fails(f"  - v: {{validate: {rules('score >= 300', 'score <= 850', 'score > 300')}}}\n") == [
        "steps[0].v.validate[0].rule",
        "steps[0].v.validate[1].rule",
    ]
    assert never_fails(f"  - v: {{validate: {rules('i <= 2147483647', 'l <= 2147483647')}}}\n") == [
        "steps[0].v.validate[0].rule"
    ]


def test_a_renamed_or_derived_field_carries_what_was_known() -> None:
    steps = (
        f"  - v: {{validate: {rules('amount > 10.0')}}}\n"
        '  - t: {transform: {rename: {amount: total}, set: {twice: {expr: "amount * 2.0", type: double}}}}\n'
        f"  - w: {{validate: {rules('total > 0.0', 'twice > 20.0', 'twice > 30.0')}}}\n"
    )
    assert never_fails(steps) == ["steps[2].w.validate[0].rule", "steps[2].w.validate[1].rule"]


def test_a_branch_knows_its_condition_and_that_earlier_ones_did_not_hold() -> None:
    steps = (
        "  - r:\n      route:\n"
        '        big: "amount > 10.0"\n'
        "        mid:\n"
        '          when: "amount > 5.0"\n'
        f"          steps: [{{m: {{validate: {rules('amount <= 10.0', 'amount > 5.0', 'amount > 7.0')}}}}}]\n"
        '        rest: "true"\n'
    )
    assert never_fails(steps) == [
        "steps[0].r.route.mid.steps[0].m.validate[0].rule",
        "steps[0].r.route.mid.steps[0].m.validate[1].rule",
    ]


def test_a_terminal_branch_takes_its_events_away() -> None:
    steps = (
        "  - r:\n      route:\n"
        '        big: {when: "amount > 100.0", terminal: true}\n'
        '        rest: "true"\n'
        f"  - after: {{validate: {rules('amount <= 100.0')}}}\n"
    )
    assert never_fails(steps) == ["steps[1].after.validate[0].rule"]
    assert never_fails(steps.replace("terminal: true", "terminal: false")) == []


def test_a_models_answer_and_a_functions_output_are_anything_of_their_type() -> None:
    steps = (
        "  - a: {llm: {prompt: p, output: {risk: string}}}\n"
        "  - t: {transform: {function: 'm:f', outputs: {region: string}}}\n"
        "  - v: {validate: " + rules("risk == 'low'", "region == 'north'") + "}\n"
    )
    assert never_fails(steps) == []
