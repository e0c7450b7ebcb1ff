"""A new user's first hour on the command line (issue 20): --version, exit codes, one-line errors for bad
options and settings, full output into pipes, run ids to open reports, one vocabulary for options."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.e2e
runner = CliRunner()
CLAIMS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"
SPEC = str(CLAIMS / "claims.yaml")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")


@pytest.fixture
def events(tmp_path: Path) -> Path:
    """The first 300 claims: enough for a rejected, a dlq'd and a completed event."""
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join((CLAIMS / "events.jsonl").read_text().splitlines()[:300]) + "\n")
    return path


def test_version_is_the_installed_distributions() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"dana-wf {metadata.version('dana-workflows')}"


def test_shell_completion_is_offered() -> None:
    res = runner.invoke(app, ["--help"])
    assert "--install-completion" in res.output and "--show-completion" in res.output


@pytest.mark.parametrize(
    ("args", "named", "allowed"),
    [
        (["run", SPEC, "-i", "x.jsonl", "--format", "parquet"], "--format", "'jsonl', 'avro'"),
        (["worker", SPEC, "--guarantee", "twice"], "--guarantee", "'at_least_once', 'exactly_once'"),
        (["worker", SPEC, "--log-level", "LOUD"], "--log-level", "'debug', 'info'"),
        (["drift", "report", SPEC, "--metric", "kl"], "--metric", "'psi', 'js'"),
    ],
)
def test_a_fixed_choice_option_refuses_other_values(args: list[str], named: str, allowed: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output  # a usage error
    text = " ".join(res.output.split())  # the error panel may wrap at the terminal's width
    assert named in text and allowed in text
    assert res.exception is None or isinstance(res.exception, SystemExit)  # no traceback


def test_a_bad_setting_names_its_variable(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_TOPIC_PARTITIONS", "abc")
    res = runner.invoke(app, ["run", SPEC, "-i", str(events), "--no-audit"])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "DWF_TOPIC_PARTITIONS" in lines[0] and "valid integer" in lines[0]
    assert "abc" not in lines[0]  # values are never echoed: a bad setting may be a secret
    monkeypatch.setenv("DWF_TOPIC_PARTITIONS", "4")
    monkeypatch.setenv("DWF_PROCESSING_GUARANTEE", "sometimes")
    res = runner.invoke(app, ["config", "show"])
    assert res.exit_code == 2 and "DWF_PROCESSING_GUARANTEE" in res.output and "exactly_once" in res.output


def test_a_missing_config_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_CONFIG_FILE", str(tmp_path / "nope.yaml"))
    res = runner.invoke(app, ["topology", SPEC])
    assert res.exit_code == 2 and "DWF_CONFIG_FILE" in res.output and "nope.yaml" in res.output


def test_a_config_file_with_broken_yaml_is_one_line_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dwf.yaml"
    config.write_text("topic_partitions: 4\nllm: {default: {model: x}\nkafka: {}\n")
    monkeypatch.setenv("DWF_CONFIG_FILE", str(config))
    res = runner.invoke(app, ["topology", SPEC])
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1
    assert "DWF_CONFIG_FILE" in lines[0] and "not valid YAML at line 3" in lines[0]


def test_a_missing_spec_or_input_file_is_a_usage_error(tmp_path: Path, events: Path) -> None:
    res = runner.invoke(app, ["run", str(tmp_path / "nope.yaml"), "-i", str(events), "--no-audit"])
    assert res.exit_code == 2 and "nope.yaml" in res.output and "cannot read" in res.output
    res = runner.invoke(app, ["topology", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2 and "nope.yaml" in res.output
    res = runner.invoke(app, ["run", SPEC, "-i", str(tmp_path / "none.jsonl"), "--no-audit"])
    assert res.exit_code == 2 and "input file" in res.output and "none.jsonl" in res.output


def test_verify_without_a_store_says_so_and_creates_nothing(tmp_path: Path) -> None:
    res = runner.invoke(app, ["audit", "verify"])
    assert res.exit_code == 1
    assert "no audit store at .dwf/audit" in res.output and "chains" not in res.output
    assert not (tmp_path / ".dwf").exists()
    res = runner.invoke(app, ["audit", "report", "abc", "--audit", f"chdb://{tmp_path / 'none'}"])
    assert res.exit_code == 1 and "no audit store" in res.output
    assert not (tmp_path / "none").exists()


def test_run_names_reports_to_open_and_the_report_pipes_whole(events: Path, tmp_path: Path) -> None:
    audit = f"chdb://{tmp_path / 'audit'}"
    res = runner.invoke(app, ["run", SPEC, "-i", str(events), "--audit", audit, "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    hints = dict(re.findall(r"report of (.+?): dana-wf audit report (\w+)", res.output))
    assert set(hints) == {"a rejected event", "an event sent to dlq", "a completed event"}
    assert f"--audit '{audit}'" in res.output  # not the default store: the hint names it
    report = runner.invoke(app, ["audit", "report", hints["a rejected event"], "--audit", audit])
    assert report.exit_code == 0, report.output
    assert "Final decision: **rejected**" in report.output
    dlq_run = hints["an event sent to dlq"]
    dlq_report = runner.invoke(app, ["audit", "report", dlq_run, "--dsn", audit])  # the old spelling works
    assert dlq_report.exit_code == 0 and "Final decision: **dlq**" in dlq_report.output
    # piped (CliRunner's output is not a terminal): every Markdown table row is whole on its line
    rows = [line for line in report.output.splitlines() if line.startswith("|")]
    assert len(rows) >= 8 and all(line.rstrip().endswith("|") for line in rows)
    assert max(len(line) for line in report.output.splitlines()) > 80  # nothing was wrapped at 80


def test_piped_topology_is_not_cut() -> None:
    res = runner.invoke(app, ["topology", SPEC])
    assert res.exit_code == 0, res.output
    assert "…" not in res.output
    for topic in ("dwf.claims-triage.in", "dwf.claims-triage.normalize", "dwf.claims-triage.rejected"):
        assert topic in res.output
    assert "amount:double" in res.output and "policy_limit:double" in res.output


def test_old_option_spellings_are_hidden_but_accepted(events: Path, tmp_path: Path) -> None:
    assert "--dsn" not in runner.invoke(app, ["audit", "verify", "--help"]).output
    assert "--no-audit-sink" not in runner.invoke(app, ["run", "--help"]).output
    run_help = runner.invoke(app, ["run", "--help"]).output
    assert "-q" in run_help and "no progress bar" in run_help
    assert "no progress bar" in runner.invoke(app, ["produce", "--help"]).output
    out = str(tmp_path / "o")
    res = runner.invoke(app, ["run", SPEC, "-i", str(events), "--no-audit-sink", "--out", out])
    assert (
        res.exit_code == 0
        and "rows built, not stored (--no-audit)" in res.output
        and "report of" not in res.output
    )


BAD_RULES = """\
workflow: w
input: {amount: double, name: string}
steps:
  - check:
      validate:
        - id: a
          rule: "amount >"
        - id: b
          rule: "amout > 0.0"
        - id: c
          rule: "amount > 0.0 and name != ''"
        - id: d
          rule: "amount < 1_000_000"
        - id: e
          rule: "not (amount > 5.0)"
"""


def test_validate_gives_each_rule_its_own_index_line_and_the_cel_spelling(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD_RULES)
    res = runner.invoke(app, ["validate", str(spec)])
    assert res.exit_code == 1
    text = res.output
    assert "bad.yaml:7: steps[0].check.validate[0].rule: not a valid CEL expression" in text
    assert "bad.yaml:8: steps[0].check.validate[1].rule: reads 'amout'" in text  # not validate[0] at line 4
    assert "bad.yaml:11: steps[0].check.validate[2].rule" in text and "'and' as '&&'" in text
    assert "bad.yaml:13: steps[0].check.validate[3].rule" in text and "write 1000000" in text
    assert "bad.yaml:15: steps[0].check.validate[4].rule" in text and "'!(a > b)'" in text


def test_a_read_of_a_refused_field_says_why_and_where(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "workflow: w\ninput: {amount: dubble}\nsteps:\n  - v: {validate: [{id: r, rule: 'amount > 0'}]}\n"
    )
    res = runner.invoke(app, ["validate", str(spec)])
    assert res.exit_code == 1
    where = "bad.yaml:4: steps[0].v.validate[0].rule"
    assert f"{where}: reads 'amount', whose declaration was refused" in res.output
    assert "(line 2: unknown type 'dubble')" in res.output
