"""`objectives infer --llm`'s answer budget when --llm-max-tokens is not given (docs/objectives.md, the --llm
paragraph): 400 tokens, room for a capable model's whole answer (six rules took ~115); 80 for the bundled
SmolLM2-135M (`dana-wf llm up`), which copies the form for one line and then runs on to any limit (400 took
it past the 90 s timeout with no rule). A value given on the command line is used for any model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.processors.llm import LLMClient, LLMRequest
from dana_workflows.processors.llm.client import LLMResult

pytestmark = pytest.mark.unit

LENDING = Path(__file__).resolve().parents[3] / "docs" / "examples" / "lending"
BUNDLED = "SmolLM2-135M-Instruct"  # the model `dana-wf llm up` serves (docs/llm.md)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[LLMRequest]:
    """The requests infer sends; each answered with no rule, without a server."""
    sent: list[LLMRequest] = []

    async def answer(self: LLMClient, req: LLMRequest, **kw: Any) -> LLMResult:
        sent.append(req)
        return LLMResult(output={"rules": ""}, audit={})

    monkeypatch.setattr(LLMClient, "complete", answer)
    monkeypatch.chdir(tmp_path)
    for name in ("lending.yaml", "sample.jsonl"):
        shutil.copy(LENDING / name, tmp_path / name)
    monkeypatch.setenv("DWF_LLM_DEFAULT__BASE_URL", "http://127.0.0.1:9/v1")
    return sent


def _infer(*extra: str) -> None:
    args = ["objectives", "infer", "lending.yaml", "--sample", "sample.jsonl", "--llm", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("env", "extra", "tokens"),
    [
        ({"DWF_LLM_DEFAULT__MODEL": "gpt-4o-mini"}, (), 400),
        ({"DWF_LLM_DEFAULT__MODEL": BUNDLED}, (), 80),
        # an alias is resolved to the model its endpoint serves
        ({"DWF_LLM_ENDPOINTS__SMALL__MODEL": BUNDLED}, ("--model", "small"), 80),
        ({"DWF_LLM_DEFAULT__MODEL": BUNDLED}, ("--model", "big-model"), 400),
        # given: used as it is, for either model
        ({"DWF_LLM_DEFAULT__MODEL": BUNDLED}, ("--llm-max-tokens", "300"), 300),
        ({"DWF_LLM_DEFAULT__MODEL": "gpt-4o-mini"}, ("--llm-max-tokens", "80"), 80),
    ],
)
def test_the_answer_budget(
    asked: list[LLMRequest],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    extra: tuple[str, ...],
    tokens: int,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _infer(*extra)
    (req,) = asked  # one target, the input
    assert req.max_tokens == tokens


def test_a_budget_below_one_token_is_a_usage_error(asked: list[LLMRequest]) -> None:
    args = [
        "objectives",
        "infer",
        "lending.yaml",
        "--sample",
        "sample.jsonl",
        "--llm",
        "--llm-max-tokens",
        "0",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--llm-max-tokens" in result.output
    assert asked == []


def test_a_timeout_note_names_the_budget_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # a small model other than the bundled one gets 400 and may run on past the timeout: the note says
    # which budget to lower as well as which timeout to raise
    async def timed_out(self: LLMClient, req: LLMRequest, **kw: Any) -> LLMResult:
        return LLMResult(output=None, audit={"error.type": "timeout"}, error="timed out")

    monkeypatch.setattr(LLMClient, "complete", timed_out)
    monkeypatch.chdir(tmp_path)
    for name in ("lending.yaml", "sample.jsonl"):
        shutil.copy(LENDING / name, tmp_path / name)
    monkeypatch.setenv("DWF_LLM_DEFAULT__MODEL", "tiny-model")
    args = ["objectives", "infer", "lending.yaml", "--sample", "sample.jsonl", "--llm"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "did not answer within 90 s" in flat and "--llm-timeout" in flat
    assert "lower --llm-max-tokens 400 for a small model" in flat
