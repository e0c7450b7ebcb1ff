"""The spec's knowledge sections: every problem named with its place, exposed fields typed downstream."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.payload_types import walk
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

BASE = """
workflow: kb
input: {policy_id: string, amount: double}
knowledge:
  sources:
    - {id: policies, kind: files, path: policies}
steps:
  - assess:
      llm:
        prompt: "{{ policy_id }}"
        output: {ok: boolean}
        knowledge: KNOWLEDGE
  - after: {validate: [{id: r, rule: "AFTER"}]}
"""


def _spec(knowledge: str, after: str = "true") -> str:
    return BASE.replace("KNOWLEDGE", knowledge).replace("AFTER", after)


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    return [f"{p.field}: {p.message}" for p in info.value.problems]


def test_exposed_and_mix_fields_are_typed_fields_after_the_step() -> None:
    ir = parse_spec(
        _spec(
            "{require: [{id: terms, source: policies, where: {policy_id: policy_id},"
            " expose: {limit: {meta: limit_usd, type: double}}}], mix_field: mix}",
            "amount <= limit && size(mix) > 0",
        )
    )
    fields = {path: f for path, _, f in walk(ir.steps, {f.name: f for f in ir.input})}
    assert fields["after"]["limit"].type == "double" and fields["after"]["limit"].optional
    assert fields["after"]["mix"].type == "string"
    assert ir.knowledge.sources[0].id == "policies"


@pytest.mark.parametrize(
    ("knowledge", "expected"),
    [
        ("{sources: [nope]}", "steps[0].assess.llm.knowledge.sources: unknown source 'nope'"),
        (
            "{require: [{id: t, source: other, where: {policy_id: policy_id}}]}",
            "steps[0].assess.llm.knowledge.require.t.source: unknown source 'other'",
        ),
        ("{where: {policy_id: policy}}", "steps[0].assess.llm.knowledge.where.policy_id: reads 'policy'"),
        (
            "{require: [{id: t, source: policies, expose: {x: {meta: m, type: decimal}}}]}",
            "steps[0].assess.llm.knowledge.require.t.expose.x.type: unknown type 'decimal'",
        ),
        ("{remember: [customer]}", "steps[0].assess.llm.knowledge.remember: reads 'customer'"),
    ],
)
def test_step_knowledge_problems(knowledge: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in _problems(_spec(knowledge))), _problems(_spec(knowledge))


def test_sections_must_add_up() -> None:
    problems = _problems(_spec("{sections: {knowledge: 0.9}}"))
    assert any("budget sections must add up to 1.0" in p for p in problems), problems


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{id: a, kind: files}", "a files source needs path"),
        ("{id: a, kind: clickhouse, key: k}", "needs exactly one of table, query"),
        ("{id: a, kind: clickhouse, table: t}", "needs key"),
        ("{id: a, kind: audit, by: policy_id}", "an audit source needs step"),
        ("{id: a, path: x, trust: 2}", "knowledge.sources[0].trust"),
    ],
)
def test_source_problems(source: str, expected: str) -> None:
    text = BASE.replace("{id: policies, kind: files, path: policies}", source).replace("KNOWLEDGE", "{}")
    problems = _problems(text.replace("AFTER", "true"))
    assert any(expected in p for p in problems), problems


def test_duplicate_source_ids() -> None:
    text = _spec("{}").replace(
        "- {id: policies, kind: files, path: policies}",
        "- {id: policies, kind: files, path: policies}\n    - {id: policies, kind: files, path: other}",
    )
    assert any("duplicate source ids ['policies']" in p for p in _problems(text))


def test_one_bad_source_is_reported_alone_and_the_others_stay_declared() -> None:
    """NEWCOMER2 K5: a bad kind dropped the whole list, so each step's declared source read "unknown";
    the step's problems had no line and a path style of their own (steps.assess, not steps[0].assess)."""
    text = _spec("{sources: [policies, bad, nope], require: [{id: t, source: bad}]}").replace(
        "- {id: policies, kind: files, path: policies}",
        "- {id: policies, kind: files, path: policies}\n    - {id: rows, kind: files, path: r.jsonl}"
        "\n    - {id: bad, kind: filez, path: docs}",
    )
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    got = [(p.line, p.field, p.message, p.fix) for p in info.value.problems]
    assert got == [
        (8, "knowledge.sources[2].kind", "unknown kind 'filez'", "did you mean 'files'?"),
        (14, "steps[0].assess.llm.knowledge.sources", "unknown source 'nope'", "use one of: policies, rows"),
    ], got


def test_a_bad_kind_far_from_every_kind_lists_them() -> None:
    text = BASE.replace("kind: files", "kind: s3").replace("KNOWLEDGE", "{}").replace("AFTER", "true")
    assert "knowledge.sources[0].kind: unknown kind 's3'" in _problems(text)
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert info.value.problems[0].fix == "use one of: audit, clickhouse, files"
