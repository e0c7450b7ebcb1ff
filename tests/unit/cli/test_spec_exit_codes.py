"""Every command that takes a workflow spec answers one it cannot read the same way (docs/cli.md, exit
codes): a usage error, exit 2, the spec's problems after `error:`, no traceback. So does `run --llm-script`
with a script that is missing or is no script (newcomer findings K3 and LS1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dana_workflows.cli.conventions import EXIT_USAGE
from dana_workflows.cli.main import main

pytestmark = pytest.mark.unit

# each subcommand that takes a spec, with what else it needs to get as far as reading it
COMMANDS = [
    ("topology", "{spec}"),
    ("run", "{spec} -i ev.jsonl"),
    ("worker", "{spec}"),
    ("worker", "ok.yaml --shadow-of {spec}"),
    ("produce", "{spec} -i ev.jsonl"),
    ("status", "{spec}"),
    ("diff", "{spec} ok.yaml -i ev.jsonl"),
    ("drift", "baseline {spec} -i ev.jsonl"),
    ("drift", "report {spec}"),
    ("efficiency", "calibrate {spec}"),
    ("shadow", "report {spec}"),
    ("knowledge", "sync {spec}"),
    ("objectives", "infer {spec} --sample ev.jsonl"),
    ("objectives", "review {spec}"),
    ("objectives", "accept {spec} r1"),
    ("objectives", "reject {spec} r1"),
    ("objectives", "pin {spec} r1"),
    ("objectives", "edit {spec} r1 --rule true"),
    ("objectives", "diff {spec}"),
    ("schemas", "check {spec}"),
    ("schemas", "register {spec}"),
    ("review", "list {spec}"),
    ("review", "show {spec} r1"),
    ("review", "decide {spec} r1 -d keep --reason x"),
    ("dlq", "list {spec}"),
    ("dlq", "replay {spec} -e r1"),
]

OK_SPEC = """\
workflow: wf
input: {id: string}
steps:
  - check: {validate: [{id: has_id, rule: 'size(id) > 0'}]}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ev.jsonl").write_text('{"id": "a"}\n')
    (tmp_path / "ok.yaml").write_text(OK_SPEC)
    monkeypatch.setenv("DWF_AUDIT_DSN", f"chdb://{tmp_path / 'audit'}")
    monkeypatch.setenv("DWF_KNOWLEDGE_DSN", f"chdb://{tmp_path / 'knowledge'}")
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", "http://127.0.0.1:1")  # a server: checking reads the spec first
    return tmp_path


def _dana_wf(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> tuple[object, str, str]:
    monkeypatch.setattr(sys, "argv", ["dana-wf", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.mark.parametrize("spec", ["nope.yaml", "ev.jsonl"])  # missing; events where the spec goes
@pytest.mark.parametrize(("command", "args"), COMMANDS)
def test_a_spec_the_command_cannot_read_is_a_usage_error(
    here: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    args: str,
    spec: str,
) -> None:
    code, out, err = _dana_wf(monkeypatch, capsys, [command, *args.format(spec=spec).split()])
    assert code == EXIT_USAGE, err
    assert err.startswith("error: ") and spec in err
    assert "Traceback" not in out + err
    assert not (here / "audit").exists() and not (here / "knowledge").exists()  # nothing created


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("nope.yaml", "nope.yaml: cannot read the LLM server script (No such file or directory)"),
        ("ok.yaml", "ok.yaml: invalid LLM server script"),  # a spec given as the script
    ],
)
def test_run_with_an_llm_script_it_cannot_use_is_a_usage_error(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str, says: str
) -> None:
    code, out, err = _dana_wf(
        monkeypatch, capsys, ["run", "ok.yaml", "-i", "ev.jsonl", "--no-audit", "--llm-script", script]
    )
    assert code == EXIT_USAGE, err
    assert err.startswith(f"error: {says}") and err.count("\n") == 1
    assert out == "" and "Traceback" not in err
