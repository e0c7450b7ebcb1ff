"""An answer of `--llm` cut at its budget says what helps (docs/objectives.md, the --llm paragraph): for the
bundled SmolLM2-135M, which copies the form for one line and then runs on to any limit, a capable model
(more tokens only take it to the timeout); for any other model a larger `--llm-max-tokens`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.objectives.settings import InferenceSettings
from tests.unit.objectives.test_llm_answer_budget_by_model import BUNDLED, propose_lending

pytestmark = pytest.mark.unit

CUT = {
    "error.type": "output_invalid",
    "gen_ai.response.finish_reasons": ["length"],
    "gen_ai.output.messages": [{"role": "assistant", "content": '{"rules": "pos | loan_amount > 0'}],
}


def test_a_cut_answer_of_the_bundled_model_names_a_capable_model_not_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, notes = propose_lending(tmp_path, monkeypatch, BUNDLED, InferenceSettings(), CUT)
    (note,) = notes
    assert "its answer was cut at 80 tokens" in note
    assert "--llm-max-tokens" not in note  # more room takes this model to the timeout, not to more rules
    assert "a capable model" in note and "DWF_LLM_DEFAULT__BASE_URL" in note
    assert "DWF_LLM_DEFAULT__MODEL" in note


def test_a_cut_answer_of_another_model_names_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, notes = propose_lending(tmp_path, monkeypatch, "gpt-4o-mini", InferenceSettings(), CUT)
    (note,) = notes
    assert "its answer was cut at 400 tokens (raise it with --llm-max-tokens)" in note
    assert "capable model" not in note
