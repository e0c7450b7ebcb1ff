"""The analysis over every step kind: renames, drops, Python functions, llm answers, terminal branches,
casts, too many paths; each claim checked against the concrete trace or the spec's meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.analysis.report import analyse
from dana_workflows.analysis.trace import Failed, trace
from dana_workflows.workflow.spec import load_spec, parse_spec

pytestmark = pytest.mark.unit

WIDE = """\
workflow: orders
input:
  order_id: string
  total: double
  items: {type: long, min: 1, max: 100}
  country: string
steps:
  - tidy:
      transform:
        set:
          country: "upper(trim(country))"
          total_cents: {expr: "total * 100.0", type: long}
        rename: {order_id: id}
        drop: [items]
  - enrich:
      transform:
        function: "json:loads"
        outputs: {segment: string}
  - risk:
      llm:
        prompt: "Is order {{ id }} risky?"
        output: {risky: boolean}
        when: "total > 500.0"
  - dispatch:
      route:
        blocked:
          when: "risky == true"
          terminal: true
        eu: "country in ['DE', 'FR']"
        rest: "true"
"""


def test_every_step_kind_is_walked_and_the_unknown_is_never_claimed(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(WIDE)
    analysis = analyse(load_spec(path))
    # the function's and the model's answers are unknown: no branch may be claimed never taken
    assert [f for f in analysis.findings if f.severity != "note"] == []


def test_trace_follows_renames_drops_and_stops_at_a_function(tmp_path: Path) -> None:
    ir = parse_spec(WIDE)
    t = trace(ir, {"order_id": "o1", "total": 12.5, "items": 3, "country": " de "})
    assert t.values["steps[0].tidy.transform.set.total_cents"] == 1250
    assert t.outcome == "unknown" and t.at == "steps[1].enrich"
    assert "id" in t.payload and "order_id" not in t.payload and "items" not in t.payload


def test_trace_of_a_terminal_branch_and_a_failing_set() -> None:
    ir = parse_spec(
        WIDE.replace(
            '        function: "json:loads"\n        outputs: {segment: string}\n',
            "        set: {segment: {expr: \"'x'\", type: string}}\n",
        )
    )
    t = trace(ir, {"order_id": "o1", "total": 900.0, "items": 3, "country": "de"})
    assert t.payload["risky"] is None  # the model is not called in a trace
    assert t.chosen == {"steps[3].dispatch": "eu"}
    broken = parse_spec(WIDE.replace('"total * 100.0"', '"total / 0.0 > 1.0 ? 1.0 : total"'))
    assert trace(broken, {"order_id": "o", "total": 1.0, "items": 1, "country": "DE"}).outcome == "unknown"
    failing = parse_spec(WIDE.replace('"upper(trim(country))"', '"country + 1"'))
    t = trace(failing, {"order_id": "o", "total": 1.0, "items": 1, "country": "DE"})
    assert t.outcome == "dlq" and isinstance(t.values["steps[0].tidy.transform.set.country"], Failed)


def test_double_to_long_cast_truncates_toward_zero_like_the_runtime(tmp_path: Path) -> None:
    spec = WIDE.replace(
        '{expr: "total * 100.0", type: long}', '{expr: "total * 100.0", type: long, min: -5, max: 100000}'
    )
    path = tmp_path / "orders.yaml"
    path.write_text(spec)
    (finding,) = [f for f in analyse(load_spec(path)).findings if f.code == "out-of-range"]
    assert finding.key == "steps[0].tidy.transform.set.total_cents" and finding.example is not None
    value = trace(load_spec(path), finding.example).values[finding.key]
    assert value < -5 or value > 100000


def test_a_workflow_with_too_many_ways_through_is_undecided(tmp_path: Path) -> None:
    routes = "".join(
        f'  - r{i}:\n      route:\n        a{i}: "x > {i}"\n'
        f'        b{i}: "x > {i + 100}"\n        c{i}: "true"\n'
        for i in range(6)
    )
    path = tmp_path / "many.yaml"
    path.write_text(f"workflow: many\ninput: {{x: long}}\nsteps:\n{routes}")
    findings = analyse(load_spec(path)).findings
    assert [f.code for f in findings] == ["undecided"]
    assert "256" in findings[0].message


def test_string_concatenation_and_negation_are_reasoned_about(tmp_path: Path) -> None:
    spec = """\
workflow: names
input: {first: string, last: string, score: long}
steps:
  - check:
      validate:
        - {id: full, rule: "size(first + last) >= size(first)"}
        - {id: neg, rule: "-score < 5 || score <= -5"}
"""
    path = tmp_path / "names.yaml"
    path.write_text(spec)
    codes = {(f.code, f.key) for f in analyse(load_spec(path)).findings}
    assert codes == {
        ("never-fails", "steps[0].check.validate[0].rule"),
        ("never-fails", "steps[0].check.validate[1].rule"),
    }
