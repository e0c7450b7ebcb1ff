"""`dana-wf knowledge` reads its store from the settings every command reads, the config file included:
knowledge_dsn in DWF_CONFIG_FILE was ignored by sync/ls/show/diff (they built Settings() from the
environment only) while `dana-wf run` and `config show` used it, so a sync wrote where the run never read
(REVIEW-N, seen reviewing af48751)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dana_workflows.cli.main import main
from dana_workflows.devservices.processes import free_port

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("command", [["ls"], ["show", "docs"], ["diff", "docs"]])
def test_the_config_files_knowledge_store_is_the_one_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DWF_KNOWLEDGE_DSN", raising=False)
    dsn = f"clickhouse://default@127.0.0.1:{free_port()}/default"
    (tmp_path / "dwf.yaml").write_text(f"knowledge_dsn: {dsn}\n")
    monkeypatch.setenv("DWF_CONFIG_FILE", str(tmp_path / "dwf.yaml"))
    monkeypatch.setattr(sys, "argv", ["dana-wf", "knowledge", *command])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 1  # the store named in the file was asked, and is down
    assert f"knowledge store {dsn}" in err
    assert not (tmp_path / ".dwf").exists()


def test_a_runs_llm_step_reads_the_same_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the other end: `dana-wf run`'s llm step opens the knowledge base the config file names, where sync wrote
    from dana_workflows.processors.llm import knowledge_hook
    from dana_workflows.workflow.ir import FieldIR, LLMStepIR
    from dana_workflows.workflow.knowledge_ir import StepKnowledgeIR

    monkeypatch.delenv("DWF_KNOWLEDGE_DSN", raising=False)
    dsn = "clickhouse://default@kb.internal:9000/dwf"
    (tmp_path / "dwf.yaml").write_text(f"knowledge_dsn: {dsn}\n")
    monkeypatch.setenv("DWF_CONFIG_FILE", str(tmp_path / "dwf.yaml"))
    opened: list[str] = []
    monkeypatch.setattr(knowledge_hook, "base_for", lambda target, max_age: opened.append(target))
    step = LLMStepIR(
        name="assess",
        prompt="p",
        output=(FieldIR(name="covered", type="boolean"),),
        knowledge=StepKnowledgeIR(budget=500),
    )
    knowledge_hook.LLMKnowledge(step, "wf")._base()
    assert opened == [dsn]
