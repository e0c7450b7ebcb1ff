"""`knowledge diff --from/--to` with a sync id that names no sync: the source's syncs, exit 2.

It said `sync 'deadbeef' matches 0 syncs; give more of its id (see `knowledge ls`)`, exit 1: `knowledge ls`
shows no sync ids, and "give more of its id" is advice for an ambiguous prefix (NEWCOMER5, session 19,
N5-6). The ids expected here are the ones `knowledge diff` itself prints in its header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.knowledge import app

pytestmark = pytest.mark.unit

SPEC = """
workflow: kb-ids
input: {policy_id: string}
knowledge:
  sources:
    - {id: policies, kind: files, path: policies}
steps:
  - assess:
      llm: {prompt: "{{ policy_id }}", output: {ok: boolean}}
"""


def test_an_unknown_sync_id_lists_the_sources_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_KNOWLEDGE_DSN", f"chdb://{tmp_path / 'kb'}")
    monkeypatch.setenv("COLUMNS", "300")
    (tmp_path / "policies").mkdir()
    doc = tmp_path / "policies" / "P-1.md"
    (tmp_path / "spec.yaml").write_text(SPEC)
    runner = CliRunner()
    for most in (5, 9):  # two syncs of the source
        doc.write_text(f"# P-1\n\n## Terms\n\nAt most {most}.\n")
        assert runner.invoke(app, ["sync", "spec.yaml"]).exit_code == 0
    header = runner.invoke(app, ["diff", "policies"]).output.splitlines()[0]
    first, latest = re.findall(r"\b([0-9a-f]{8}) \d{4}-", header)

    for option in ("--from", "--to"):
        refused = runner.invoke(app, ["diff", "policies", option, "deadbeef"])
        assert refused.exit_code == 2, refused.output
        assert "sync 'deadbeef' matches no sync of source 'policies'" in refused.output
        assert re.search(rf"its syncs, latest first: {latest} \(.+\), {first} \(.+\)", refused.output)
        assert "give more of its id" not in refused.output and "Traceback" not in refused.output

    named = runner.invoke(app, ["diff", "policies", "--from", first[:4], "--to", latest])
    assert named.exit_code == 0 and "+At most 9." in named.output
