"""`objectives infer --llm` against the real local model (SmolLM2-135M behind llama.cpp's server).

What is asserted is the engine's behaviour with a real server, never the model's judgement (and never a
wall time: the machine's load decides that): one call for the lending example's one target (the session-16
code made four attempts of 30 s), a timeout named with its flag if the model is slower than the limit, and
whatever the model says, only rules that pass the gates (compile, read declared fields, type-check) are
offered. The answer is held to 32 tokens so the test costs seconds of the model's time, not a minute.
Skipped only when DWF_TEST_LLM_LOCAL_URL is unset.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dana_workflows.cli import objectives as cli_objectives
from dana_workflows.cli.main import app
from dana_workflows.devservices.llama.model import MODEL_ID
from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.workflow.objectives_lock import lock_path, read_lock
from dana_workflows.workflow.spec import parse_spec

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("DWF_TEST_LLM_LOCAL_URL"), reason="DWF_TEST_LLM_LOCAL_URL is unset"
    ),
]

LENDING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "lending"
TIMEOUT_S = 120.0  # the configured per-call timeout; generous for a shared 2-core machine


def test_infer_llm_on_the_lending_example_makes_one_call_and_offers_only_valid_cel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_LLM_DEFAULT__BASE_URL", os.environ["DWF_TEST_LLM_LOCAL_URL"].rstrip("/"))
    monkeypatch.setenv("DWF_LLM_DEFAULT__MODEL", MODEL_ID)
    monkeypatch.setenv("DWF_LLM_DEFAULT__API_KEY", "local")
    for name in ("lending.yaml", "sample.jsonl"):
        shutil.copy(LENDING / name, tmp_path / name)
    spec = tmp_path / "lending.yaml"
    args = ["objectives", "infer", str(spec), "--sample", str(tmp_path / "sample.jsonl"), "--llm"]
    progress = tmp_path / "progress.txt"
    with progress.open("w") as f:  # the progress line a terminal shows: the call's own seconds
        monkeypatch.setattr(cli_objectives, "err", Console(file=f, force_terminal=True, width=400))
        result = CliRunner().invoke(app, [*args, "--llm-timeout", f"{TIMEOUT_S:g}", "--llm-max-tokens", "32"])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in progress.read_text().splitlines() if x.startswith("llm ")]  # one target, one call
    assert line.startswith("llm 1/1 input: asking"), line
    flat = " ".join(result.output.split())
    if "did not answer within" in flat:  # a timeout is allowed on a busy machine, but it must say so
        assert f"{TIMEOUT_S:g} s (raise it with --llm-timeout" in flat and MODEL_ID in flat
    ir = parse_spec(spec.read_text(), str(spec), base_dir=tmp_path)
    fields = {f.name: f for f in ir.input}
    for rule in read_lock(lock_path(spec)).rules:
        assert check_rule(rule.rule, fields) == "", rule  # every offered rule, the model's included
