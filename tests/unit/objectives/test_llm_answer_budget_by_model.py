"""`--llm`'s answer budget has one home, a function of the model asked (docs/objectives.md, the --llm
paragraph): 400 tokens, room for a capable model's whole answer; 80 for the bundled SmolLM2-135M of
`dana-wf llm up`, which copies the form for one line and then runs on to any limit; a budget given
(`--llm-max-tokens`, `llm_max_tokens`) is used for any model. Python callers of `propose_all` get the same
budget as `dana-wf objectives infer` (tests/unit/cli/test_objectives_llm_answer_room.py: the CLI's path)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.devservices.llama.model import MODEL_ID
from dana_workflows.objectives.boundaries import boundaries
from dana_workflows.objectives.llm_proposals import propose_all
from dana_workflows.objectives.sample import load_sample, split
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.processors.llm import LLMClient, LLMRequest
from dana_workflows.processors.llm.client import LLMResult
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

LENDING = Path(__file__).resolve().parents[3] / "docs" / "examples" / "lending"
BUNDLED = "SmolLM2-135M-Instruct"  # docs/llm.md: what `dana-wf llm up` serves


def test_the_bundled_model_is_the_one_devservices_serves() -> None:
    assert MODEL_ID == BUNDLED
    assert InferenceSettings().answer_tokens(MODEL_ID) == 80


def propose_lending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, settings: InferenceSettings, audit: Any
) -> tuple[list[LLMRequest], list[str]]:
    """The requests `propose_all` sends for the lending example's input with `model` as the default
    model, each answered with `audit` (no output), and the notes it gives."""
    sent: list[LLMRequest] = []

    async def answer(self: LLMClient, req: LLMRequest, **kw: Any) -> LLMResult:
        sent.append(req)
        return LLMResult(output=None, audit=audit, error="invalid output")

    monkeypatch.setattr(LLMClient, "complete", answer)
    monkeypatch.setenv("DWF_LLM_DEFAULT__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("DWF_LLM_DEFAULT__MODEL", model)
    for name in ("lending.yaml", "sample.jsonl"):
        shutil.copy(LENDING / name, tmp_path / name)
    ir = parse_spec((tmp_path / "lending.yaml").read_text(), "lending.yaml", base_dir=tmp_path)
    learn, held = split(load_sample(tmp_path / "sample.jsonl", ir.input, 30))
    bounds, _ = boundaries(ir, learn, held)
    _, notes = propose_all(ir, bounds, "default", settings)
    return sent, notes


@pytest.mark.parametrize(
    ("model", "settings", "tokens"),
    [
        ("gpt-4o-mini", InferenceSettings(), 400),
        (BUNDLED, InferenceSettings(), 80),
        (BUNDLED, InferenceSettings(llm_max_tokens=300), 300),  # given: for any model
        ("gpt-4o-mini", InferenceSettings(llm_max_tokens=80), 80),
    ],
)
def test_propose_all_gives_the_models_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, settings: InferenceSettings, tokens: int
) -> None:
    sent, _ = propose_lending(tmp_path, monkeypatch, model, settings, {})
    (req,) = sent  # one target, the input
    assert req.max_tokens == tokens
