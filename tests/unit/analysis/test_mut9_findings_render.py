"""A finding as `dana-wf validate` prints it (analysis/findings.py, docs/changes.md): file and line, site
key, code, message, the fix, the example event; its severity by code; its JSON record."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.findings import Finding

pytestmark = pytest.mark.unit


def test_a_finding_printed_with_its_line_fix_and_example() -> None:
    f = Finding("overlap", "steps[0].r.route.b", "they overlap", "make them exclusive", {"b": 2, "a": 1}, 7)
    assert f.render("w.yaml") == (
        "w.yaml:7: steps[0].r.route.b: overlap: they overlap (fix: make them exclusive)\n"
        '      example event: {"a": 1, "b": 2}'
    )


def test_without_a_line_fix_or_example() -> None:
    assert Finding("not-analysed", "k", "outside").render("w.yaml") == "w.yaml: k: not-analysed: outside"


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("type-error", "error"),
        ("never-taken", "warning"),
        ("overlap", "warning"),
        ("never-fails", "warning"),
        ("never-passes", "warning"),
        ("contradicts-branch", "warning"),
        ("out-of-range", "warning"),
        ("not-analysed", "note"),
        ("undecided", "note"),
    ],
)
def test_severity_by_code_as_docs_changes_lists_it(code: str, severity: str) -> None:
    assert Finding(code, "k", "m").severity == severity


def test_the_json_record() -> None:
    f = Finding("never-fails", "k", "m", "fix it", {"a": 1}, 3)
    assert f.as_record() == {
        "code": "never-fails",
        "severity": "warning",
        "key": "k",
        "line": 3,
        "message": "m",
        "fix": "fix it",
        "example": {"a": 1},
    }
