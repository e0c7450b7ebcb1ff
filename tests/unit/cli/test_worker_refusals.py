"""`dana-wf worker` and `dana-wf produce` refuse what they can check before any connection (docs/cli.md's
exit codes: 1 for what stops the command, 2 for a bad option or file), with one line naming the setting or
the fix: nothing here reaches a broker (the broker named is a closed port)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.devservices.processes import free_port
from tests.fixtures.review_workflow import SPEC

pytestmark = pytest.mark.unit

runner = CliRunner()


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "scorer.py").write_text("def score(payload):\n    return {'score': 1.0}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("scorer", None)
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "scoring.yaml"
    path.write_text(SPEC)
    return path


def _broker() -> str:
    return f"127.0.0.1:{free_port()}"


def test_a_max_batch_below_one_is_refused(spec: Path) -> None:
    res = runner.invoke(app, ["worker", str(spec), "--broker", _broker(), "--max-batch", "0", "--no-audit"])
    assert res.exit_code == 1
    assert "max batch 0: an agent takes at least one record at a time" in res.output


def test_an_unknown_guarantee_is_a_usage_error(spec: Path) -> None:
    res = runner.invoke(app, ["worker", str(spec), "--guarantee", "at_most_once"])
    assert res.exit_code == 2
    assert "at_most_once" in res.output and "at_least_once" in res.output


def test_a_bad_log_level_setting_names_the_variable(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_LOG_LEVEL", "LOUD")
    res = runner.invoke(app, ["worker", str(spec), "--broker", _broker(), "--no-audit"])
    assert res.exit_code == 2  # settings are checked before any command runs
    assert "DWF_LOG_LEVEL" in res.output
    assert "Traceback" not in res.output


def test_a_shadow_of_another_workflow_is_refused(spec: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(SPEC.replace("workflow: scoring", "workflow: other"))
    res = runner.invoke(
        app, ["worker", str(spec), "--shadow-of", str(other), "--broker", _broker(), "--no-audit"]
    )
    assert res.exit_code == 1
    assert "--shadow-of is workflow 'other' and the spec is workflow 'scoring'" in res.output


def test_a_schema_registry_of_an_unknown_scheme_is_named(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", "ftp://registry")
    res = runner.invoke(app, ["worker", str(spec), "--broker", _broker(), "--no-audit"])
    # a setting refused before any command runs (core/settings.py), a usage error like every other setting's
    assert res.exit_code == 2
    assert "DWF_SCHEMA_REGISTRY: Value error, use file://<dir>" in res.output


def test_a_missing_spec_is_a_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["worker", str(tmp_path / "none.yaml"), "--broker", _broker()])
    assert res.exit_code == 2
    assert "none.yaml" in res.output


def test_produce_without_its_input_file_names_the_path(spec: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["produce", str(spec), "-i", str(tmp_path / "none.jsonl"), "--broker", _broker()]
    )
    assert res.exit_code == 2  # a missing input file is a usage error (docs/cli.md), as for `run`
    assert f"input file {tmp_path / 'none.jsonl'} does not exist" in res.output
    assert "docs/examples/claims/generate.py" not in res.output  # that generator makes no scoring events


def test_produce_refuses_a_security_setting_that_cannot_work(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text('{"id": "a", "label": "good", "amount": 1.0}\n')
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")  # SASL without a mechanism or user
    res = runner.invoke(app, ["produce", str(spec), "-i", str(events), "--broker", _broker()])
    assert res.exit_code == 1
    assert "SASL" in res.output
    assert "Traceback" not in res.output
