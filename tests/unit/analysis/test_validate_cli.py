"""`dana-wf validate` with the analysis: type errors refuse the spec, warnings do not unless --strict."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

SUITE = Path(__file__).resolve().parents[3] / "bench" / "data" / "spec_defects"


def test_type_error_exits_1_naming_line_and_fix() -> None:
    result = CliRunner().invoke(app, ["validate", str(SUITE / "type_chained_comparison.yaml")])
    assert result.exit_code == 1
    assert "type_chained_comparison.yaml:20: steps[0].check.validate[3].rule: type-error" in result.output
    assert "fix: 300 <= credit_score && credit_score <= 850" in result.output
    assert "Traceback" not in result.output


def test_warning_passes_unless_strict() -> None:
    spec = str(SUITE / "never_taken_shadowed.yaml")
    relaxed = CliRunner().invoke(app, ["validate", spec])
    assert relaxed.exit_code == 0
    assert "never-taken" in relaxed.output and "example event" in relaxed.output
    assert CliRunner().invoke(app, ["validate", "--strict", spec]).exit_code == 1
    assert "never-taken" not in CliRunner().invoke(app, ["validate", "--no-solver", spec]).output


def test_clean_example_has_no_findings(claims_spec: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--strict", str(claims_spec)])
    assert result.exit_code == 0, result.output
    assert "no findings" in result.output
