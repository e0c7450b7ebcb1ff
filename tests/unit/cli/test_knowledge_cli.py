"""`dana-wf knowledge`: sync, ls, show, diff on an embedded store, and each bad input one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.knowledge import app

pytestmark = pytest.mark.unit

SPEC = """
workflow: kb-cli
input: {policy_id: string}
knowledge:
  sources:
    - {id: policies, kind: files, path: policies, shape: [policy_id, limit_usd]}
    - {id: big, kind: files, path: big, max_file_bytes: 50}
steps:
  - assess:
      llm: {prompt: "{{ policy_id }}", output: {ok: boolean}}
"""

DOC = "---\npolicy_id: {pid}\n{limit}---\n# {pid}\n\n## Terms\n\nAt most {most}.\n"


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_KNOWLEDGE_DSN", f"chdb://{tmp_path / 'kb'}")
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "P-1.md").write_text(
        "---\npolicy_id: P-1\nlimit_usd: 5\n---\n# P-1\n\n## Terms\n\nAt most 5.\n"
    )
    (tmp_path / "policies" / "P-2.md").write_text(
        "---\npolicy_id: P-2\n---\n# P-2\n\n## Terms\n\nAt most 7.\n"
    )
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "huge.txt").write_text("x " * 100)
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def test_sync_ls_show_diff(spec: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["sync", str(spec)])
    assert first.exit_code == 1  # one source failed: said, and the other synced
    assert "new version" in first.output
    assert "huge.txt is 200 bytes, over max_file_bytes (50)" in first.output
    assert "1 source(s) not synced; their previous version stays in use" in first.output
    assert "1 of 2 chunks miss shape fields (limit_usd)" in first.output

    listed = runner.invoke(app, ["ls"])
    assert listed.exit_code == 0 and "policies" in listed.output and "big" not in listed.output
    shown = runner.invoke(app, ["show", "policies"])
    assert "policies:P-2.md#terms" in shown.output and "limit_usd" in shown.output

    (spec.parent / "policies" / "P-1.md").write_text(DOC.format(pid="P-1", limit="limit_usd: 9\n", most=9))
    runner.invoke(app, ["sync", str(spec), "--source", "policies"])
    diff = runner.invoke(app, ["diff", "policies"])
    assert diff.exit_code == 0
    assert (
        "~ policies:P-1.md#terms" in diff.output
        and "-At most 5." in diff.output
        and "+At most 9." in diff.output
    )
    assert "P-2" not in diff.output
    chunk = runner.invoke(app, ["show", "policies:P-1.md#terms"])
    assert chunk.output.count("version") == 2 and "(current)" in chunk.output and "At most 9." in chunk.output


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["show", "nope"], "no source or chunk 'nope'", 1),
        (["diff", "nope"], "no syncs of source 'nope'", 1),
        (["sync", "missing.yaml"], "cannot read", 2),  # a spec it cannot read: the user's file, as everywhere
        (["sync", "spec.yaml", "--source", "other"], "unknown sources ['other']", 1),
        (["ls", "--dsn", "mysql://x"], "unknown scheme 'mysql'", 2),  # a DSN the user fixes, as for --audit
    ],
)
def test_bad_input_is_one_clear_message(spec: Path, args: list[str], message: str, code: int) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_spec_without_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        "workflow: w\ninput: {a: string}\nsteps:\n  - v: {validate: [{id: r, rule: 'true'}]}\n"
    )
    result = CliRunner().invoke(app, ["sync", "s.yaml"])
    assert result.exit_code == 1 and "declares no knowledge sources" in result.output
