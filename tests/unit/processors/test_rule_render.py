"""The rule results' audit column from the rules' rendered heads (processors/rule_render.py) is the general
path's text, ``canonical_json([r.to_record() for r in results])``, for any results: made by a compiled rule
(with a head), by hand (without), or both in one list; and the executor renders a passing step's results
without making a record dict (docs/performance.md, session 19)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.processors import rule_render
from dana_workflows.processors.base import RuleResult, StepContext
from dana_workflows.processors.executor import execute
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.processors.rule_render import record_head, render_results
from dana_workflows.processors.rules import CompiledRule
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit


def general(results: list[RuleResult]) -> str:
    return canonical_json([r.to_record() for r in results])


# text of every kind: non-ASCII, quotes, backslashes, control characters, lone surrogates
texts = st.text(alphabet=st.characters(codec=None), max_size=12) | st.sampled_from(
    ["", "r1", 'a"b', "a\\b", "\n\t", "é€😀", "\ud800", "x\udfffy"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too: orjson refuses them, canonical_json renders them its own way
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
results = st.builds(
    RuleResult,
    rule_id=texts,
    step=texts,
    passed=st.booleans() | st.sampled_from([0, 1]),  # an int verdict renders as an int, never as a bool
    severity=st.sampled_from(["reject", "warn"]) | texts,
    message=texts,
    values=st.dictionaries(texts, values, max_size=4),
)


def headed(result: RuleResult) -> RuleResult:
    """``result`` as ``CompiledRule.check`` makes it: with its rule's head for its verdict."""
    rule = CompiledRule(result.rule_id, result.step, result.severity, result.message, compile_expr("true"))
    if result.passed.__class__ is bool:  # check makes only bool verdicts, a passing one without a message
        result.head = rule.heads[result.passed] if result.passed is False or result.message == "" else None
    return result


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(results, st.booleans()), max_size=6))
def test_render_results_is_the_general_paths_text(drawn: list[tuple[RuleResult, bool]]) -> None:
    batch = [headed(result) if with_head else result for result, with_head in drawn]
    assert render_results(batch) == general(batch)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            texts,
            st.sampled_from(["reject", "warn"]) | texts,
            texts,
            st.sampled_from(["amount > 0.0", "size(name) > 0", "amount", "name == 'x'"]),
            st.dictionaries(st.sampled_from(["amount", "name"]), scalars, max_size=2),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_a_compiled_rules_results_render_as_the_general_path(
    rules: list[tuple[str, str, str, str, dict[str, Any]]],
) -> None:
    batch = [
        CompiledRule(rule_id, "step", severity, message, compile_expr(expr)).check(scope)
        for rule_id, severity, message, expr, scope in rules
    ]
    assert render_results(batch) == general(batch)


def test_the_column_as_canonical_json_defines_it() -> None:
    # sorted keys, no spaces; values is the canonical JSON of the values, as a string (the spec of the column)
    batch = [
        headed(RuleResult("amount_positive", "validate", True, "reject", "", {"amount": 5, "b": "ü"})),
        headed(RuleResult("limit", "enforce", False, "warn", "over the limit", {"x": None})),
    ]
    expected = (
        '[{"message":"","passed":true,"rule_id":"amount_positive","severity":"reject","step":"validate",'
        '"values":"{\\"amount\\":5,\\"b\\":\\"ü\\"}"},'
        '{"message":"over the limit","passed":false,"rule_id":"limit","severity":"warn","step":"enforce",'
        '"values":"{\\"x\\":null}"}]'
    )
    assert batch[0].head is not None and batch[1].head is not None
    assert render_results(batch) == expected
    assert json.loads(render_results(batch)) == [r.to_record() for r in batch]
    assert render_results([]) == "[]"


def test_a_rules_two_verdicts_have_heads_of_their_own() -> None:
    rule = CompiledRule("r", "s", "reject", "too small", compile_expr("amount > 0.0"))
    passed, failed = rule.check({"amount": 1.0}), rule.check({"amount": -1.0})
    assert passed.head != failed.head
    assert render_results([passed, failed]) == general([passed, failed])
    assert '"passed":false' in render_results([failed]) and '"passed":true' in render_results([passed])


def test_a_lone_surrogate_in_a_message_renders_the_whole_list_the_general_way() -> None:
    # orjson refuses the list, so canonical_json writes all of it ASCII-escaped: the other record's ü too
    good = CompiledRule("ok", "s", "reject", "m", compile_expr("true")).check({"name": "ü"})
    bad = CompiledRule("bad", "s", "reject", "no \ud800", compile_expr("false")).check({})
    assert good.head is not None and bad.head is None
    text = render_results([good, bad])
    assert text == general([good, bad])
    assert "\\u" in text and "ü" not in text


def test_no_head_where_canonical_json_is_not_orjsons_sorted_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # the argument holds only while canonical_json renders as orjson does (its options, its separators)
    monkeypatch.setattr(rule_render, "canonical_json", lambda value: json.dumps(value, sort_keys=True))
    assert record_head("r", "s", True, "warn", "m") is None


def test_a_head_is_the_records_text_up_to_its_values() -> None:
    head = record_head("r", "s", True, "warn", "m")
    assert head == b'{"message":"m","passed":true,"rule_id":"r","severity":"warn","step":"s","values":'
    assert record_head("r", "s", True, "warn", "\udc00") is None


SPEC = """
workflow: render
input: {amount: double}
steps:
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0", message: "not positive"}
        - {id: small, rule: "amount < 100.0", message: "large", severity: warn}
"""


def run_check(amount: float) -> tuple[Any, Envelope]:
    pipeline = compile_pipeline(parse_spec(SPEC))
    node = pipeline.entry_node
    env = Envelope("e/in", "e", "render", 1, "in", {"amount": amount}, 0, 0, {}, 0, GENESIS_HASH)
    result = asyncio.run(execute(node, env, StepContext(clock=lambda: 7), owned=True))
    return result, result.envelope


@pytest.mark.parametrize("amount", [5.0, 500.0, -1.0])
def test_the_executors_column_and_evidence_are_the_records(amount: float) -> None:
    result, env = run_check(amount)
    outcome = result.outcome
    assert outcome is not None
    records = [r.to_record() for r in outcome.rule_results]
    (row,) = [row for row in result.rows if row.step == "check"]
    assert row.rule_results == canonical_json(records)
    if amount < 0:  # rejected: every result is the evidence
        assert env.provenance["rule_results"] == records
        assert row.decision == "reject"
    else:  # passed: only the failed (warn) ones
        assert env.provenance["rule_results"] == [r for r in records if not r["passed"]]
        assert row.decision == ("warn" if amount >= 100 else "pass")


def test_a_passing_step_makes_no_record_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: RuleResult) -> dict[str, Any]:
        raise AssertionError("a passing rule's record made")

    monkeypatch.setattr(RuleResult, "to_record", refused)
    result, env = run_check(5.0)
    assert result.rows[0].decision == "pass"
    assert env.provenance["rule_results"] == []
