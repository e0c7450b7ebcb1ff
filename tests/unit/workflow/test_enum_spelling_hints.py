"""Two ways a newcomer writes an enum that YAML reads otherwise (session 18 newcomer, N9 and N7): in a { }
mapping, `enum(low, medium, high)` is split at its commas into three keys (three confusing "unknown type"
problems, two of them for fields named `medium` and `high)`); in quotes, `"[oral, iv]"` is one string. Each is
one problem whose fix says how to write the enum."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit


def problems(text: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "w.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in caught.value.problems]


def spec(inputs: str) -> str:
    return f"workflow: w\ninput: {inputs}\nsteps:\n  - c: {{validate: [{{id: r, rule: 'true'}}]}}\n"


def test_an_enum_split_by_a_flow_mapping_is_one_problem_with_the_fix() -> None:
    assert problems(spec("{risk: enum(low, medium, high), note: string}")) == [
        (
            2,
            "input.risk",
            "enum(low, medium, high) was split at its commas by the { } mapping",
            'quote it, risk: "enum(low, medium, high)", or write it as a list, risk: [low, medium, high]',
        )
    ]


def test_both_fixes_it_names_are_valid() -> None:
    for written in (
        '{risk: "enum(low, medium, high)", note: string}',
        "{risk: [low, medium, high], note: string}",
    ):
        [risk, _] = parse_spec(spec(written), "w.yaml").input
        assert risk.symbols == ("low", "medium", "high")


def test_an_llm_output_enum_split_the_same_way() -> None:
    text = spec("{d: string}").replace(
        "  - c: {validate: [{id: r, rule: 'true'}]}",
        "  - ask:\n      llm:\n        prompt: 'x {{ d }}'\n"
        "        output: {risk: enum(low, high), note: string}",
    )
    [(_, field, message, _)] = problems(text)
    assert (field, message) == (
        "steps[0].ask.llm.output.risk",
        "enum(low, high) was split at its commas by the { } mapping",
    )


def test_a_list_in_quotes_gets_the_enum_spellings_as_fix() -> None:
    [(_, field, message, fix)] = problems(spec('{route_of_admin: "[oral, iv]"}'))
    assert (field, message) == ("input.route_of_admin", "unknown type '[oral, iv]'")
    assert fix == "an enum is a YAML list without quotes, route_of_admin: [oral, iv], or enum(oral, iv)"


def test_another_unknown_type_keeps_the_list_of_types() -> None:
    [(_, _, message, fix)] = problems(spec("{amount: decimal}"))
    assert message == "unknown type 'decimal'" and fix.startswith("use one of string, long, int, double")
