"""Findings of the analysis on small specs; every example event is run through the real local runtime and
must do what its finding says (the expected behaviour comes from the spec, not from the analysis)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.analysis.report import analyse
from dana_workflows.core.clock import wall_clock_us
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import load_spec

pytestmark = pytest.mark.unit

LOANS = """\
workflow: loans
input:
  applicant: string
  credit_score: {type: long, min: 300, max: 850}
  amount: double
  channel: string?
objective:
  constraints:
    - {id: cap, rule: "route != 'approve' || amount <= 50000.0"}
steps:
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0"}
  - decide:
      route:
        approve: "credit_score >= 720 && amount <= 50000.0"
        review: "true"
"""


def spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def run(path: Path, event: dict[str, Any], tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The event through the real local runtime: the boundary it ended in and its record there."""
    pipeline = compile_pipeline(load_spec(path))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    out = tmp_path / "out"
    runtime = LocalRuntime(
        pipeline, topo, OutputFiles(out, topo), collect_rows([]), StepContext(clock=wall_clock_us)
    )
    asyncio.run(runtime.run([json.dumps(event)]))
    (boundary,) = [b for b, n in runtime.summary.outcomes.items() if n]
    (record,) = read_jsonl(out / f"dwf.{pipeline.workflow.name}.{boundary}.jsonl")
    return boundary, record


def only(path: Path) -> Any:
    analysis = analyse(load_spec(path))
    flagged = [f for f in analysis.findings if f.severity != "note"]
    assert len(flagged) == 1, [f.render("") for f in analysis.findings]
    return flagged[0]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_clean_spec_has_no_finding(tmp_path: Path) -> None:
    assert analyse(load_spec(spec(tmp_path, LOANS))).findings == []


def test_chained_comparison_is_refused_with_line_and_fix(tmp_path: Path) -> None:
    path = spec(tmp_path, LOANS.replace('rule: "amount > 0.0"', 'rule: "300 <= credit_score <= 850"'))
    finding = only(path)
    assert (finding.code, finding.severity, finding.key) == (
        "type-error",
        "error",
        "steps[0].check.validate[0].rule",
    )
    assert finding.line == line_of(path, "300 <= credit_score")
    assert finding.fix == "300 <= credit_score && credit_score <= 850"
    # the runtime agrees: the rule cannot be computed, so every event is rejected by it
    boundary, record = run(
        path, {"applicant": "a", "credit_score": 700, "amount": 10.0, "channel": None}, tmp_path
    )
    assert boundary == "rejected" and "No such overload" in json.dumps(record["provenance"])


def test_shadowed_branch_with_an_example_the_runtime_sends_to_the_earlier_branch(tmp_path: Path) -> None:
    text = LOANS.replace(
        '        review: "true"\n',
        '        prime: "credit_score >= 760 && amount < 1000.0"\n        review: "true"\n',
    )
    path = spec(tmp_path, text)
    finding = only(path)
    assert (finding.code, finding.key) == ("never-taken", "steps[1].decide.route.prime")
    assert finding.line == line_of(path, "prime:")
    assert "'approve'" in finding.message
    boundary, record = run(path, finding.example, tmp_path)
    assert boundary == "out" and record["payload"]["route"] == "approve"
    assert (
        record["payload"]["credit_score"] >= 760 and record["payload"]["amount"] < 1000.0
    )  # prime's condition holds


def test_condition_beyond_the_declared_range_never_holds(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        LOANS.replace(
            '        review: "true"\n', '        star: "credit_score > 900"\n        review: "true"\n'
        ),
    )
    finding = only(path)
    assert (finding.code, finding.key) == ("never-taken", "steps[1].decide.route.star")
    assert "cannot hold" in finding.message


def test_overlap_names_the_later_branch_and_the_runtime_takes_the_first(tmp_path: Path) -> None:
    text = LOANS.replace(
        '        review: "true"\n',
        '        web: "channel == \'web\' && amount < 100.0"\n        review: "true"\n',
    )
    path = spec(tmp_path, text)
    finding = only(path)
    assert (finding.code, finding.key) == ("overlap", "steps[1].decide.route.web")
    _, record = run(path, finding.example, tmp_path)
    assert record["payload"]["route"] == "approve" and record["payload"]["channel"] == "web"


def test_nested_conditions_are_not_an_overlap(tmp_path: Path) -> None:
    text = LOANS.replace(
        '        review: "true"\n', '        small: "amount <= 50000.0"\n        review: "true"\n'
    )
    assert analyse(load_spec(spec(tmp_path, text))).findings == []


def test_rule_that_never_fails_and_never_passes(tmp_path: Path) -> None:
    never_fails = LOANS.replace('rule: "amount > 0.0"', 'rule: "credit_score >= 300"')
    finding = only(spec(tmp_path, never_fails))
    assert (finding.code, finding.key) == ("never-fails", "steps[0].check.validate[0].rule")
    never_passes = LOANS.replace('rule: "amount > 0.0"', 'rule: "credit_score > 850"')
    path = spec(tmp_path, never_passes)
    finding = next(f for f in analyse(load_spec(path)).findings if f.code == "never-passes")
    assert finding.key == "steps[0].check.validate[0].rule"
    boundary, _ = run(path, finding.example, tmp_path)
    assert boundary == "rejected"


def test_constraint_contradicting_a_branch(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        LOANS.replace(
            '"credit_score >= 720 && amount <= 50000.0"', '"credit_score >= 720 && amount > 60000.0"'
        ),
    )
    finding = only(path)
    assert (finding.code, finding.key) == ("contradicts-branch", "objective.constraints[0].rule")
    assert "'approve'" in finding.message
    boundary, record = run(path, finding.example, tmp_path)
    assert boundary == "rejected"
    assert any(r["rule_id"] == "cap" and not r["passed"] for r in record["provenance"]["rule_results"])


def test_transform_leaving_its_declared_range(tmp_path: Path) -> None:
    text = LOANS.replace(
        "  - decide:\n",
        "  - score:\n      transform:\n        set:\n"
        '          pct: {expr: "(credit_score - 300) * 100 / 500", type: long, min: 0, max: 100}\n'
        "  - decide:\n",
    )
    path = spec(tmp_path, text)
    finding = only(path)
    assert (finding.code, finding.key) == ("out-of-range", "steps[1].score.transform.set.pct")
    _, record = run(path, finding.example, tmp_path)
    assert record["payload"]["pct"] > 100


def test_outside_the_subset_is_reported_not_skipped(tmp_path: Path) -> None:
    path = spec(tmp_path, LOANS.replace('rule: "amount > 0.0"', "rule: \"applicant.startsWith('A')\""))
    (finding,) = analyse(load_spec(path)).findings
    assert (finding.code, finding.severity) == ("not-analysed", "note")


def test_no_solver_checks_types_only(tmp_path: Path) -> None:
    path = spec(tmp_path, LOANS.replace('rule: "amount > 0.0"', 'rule: "credit_score >= 300"'))
    assert analyse(load_spec(path), solve=False).findings == []
