"""`dana-wf validate`'s analysis of a spec file (analysis/report.py): type errors first, and the solver
only when there are none; each finding at its line in the file; a workflow with more paths than the walk
follows (256) is one `undecided` note; the one-line summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.analysis.findings import Finding
from dana_workflows.analysis.report import Analysis, analyse, summary
from dana_workflows.workflow.spec import load_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: w
input: {amount: double, n: long}
steps:
  - check:
      validate:
        - {id: pos, rule: "amount > 0.0"}
  - later:
      validate:
        - {id: loose, rule: "amount > -1.0"}
"""


def spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    return path


def test_solver_findings_at_their_lines_when_the_types_are_right(tmp_path: Path) -> None:
    analysis = analyse(load_spec(spec(tmp_path, SPEC)))
    assert [(f.code, f.key, f.line) for f in analysis.findings] == [
        ("never-fails", "steps[1].later.validate[0].rule", 9)
    ]
    assert analysis.source == str(tmp_path / "w.yaml")
    assert (analysis.errors, len(analysis.warnings), analysis.notes) == ([], 1, [])
    assert summary(analysis) == "1 warning"
    assert analyse(load_spec(spec(tmp_path, SPEC)), solve=False).findings == []


def test_a_type_error_stops_the_solver(tmp_path: Path) -> None:
    text = SPEC + '        - {id: mixed, rule: "n + 1.5 > 0.0"}\n'  # line 10, beside loose
    analysis = analyse(load_spec(spec(tmp_path, text)))
    assert [(f.code, f.key, f.line) for f in analysis.findings] == [
        ("type-error", "steps[1].later.validate[1].rule", 10)
    ]
    assert summary(analysis) == "1 error"


def test_too_many_paths_is_one_undecided_note(tmp_path: Path) -> None:
    routes = "".join(f'  - r{i}: {{route: {{a: "amount > {i}.0", b: "true"}}}}\n' for i in range(9))
    analysis = analyse(load_spec(spec(tmp_path, "workflow: w\ninput: {amount: double}\nsteps:\n" + routes)))
    undecided = [f for f in analysis.findings if f.code == "undecided"]
    assert [(f.message, f.fix) for f in undecided] == [
        (
            "the workflow has more ways through its routes than the analysis follows (256); "
            "nothing was claimed about it",
            "split the workflow, or run `dana-wf validate --no-solver` for the type check only",
        )
    ]
    assert undecided[0].severity == "note"


def test_the_summary_counts_each_kind() -> None:
    def f(code: str) -> Finding:
        return Finding(code, "k", code, "")

    a = Analysis("s", [f("type-error"), f("type-error"), f("overlap"), f("not-analysed")])
    assert summary(a) == "2 errors, 1 warning, 1 note"
    assert summary(Analysis("s", [f("not-analysed"), f("undecided")])) == "2 notes"
    assert summary(Analysis("s")) == "no findings"
