"""`objectives infer --llm` against the project's OpenAI-compatible test server.

The scripted model answers from the prompt's content: it proposes currency rules when the prompt lists a
`currency` field, and nothing useful otherwise. Of its rules only those that pass the gates are offered.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.workflow.objectives_lock import lock_path, read_lock
from tests.e2e.test_objectives_cli import CLAIMS, _good_claims

pytestmark = pytest.mark.e2e

CURRENCY_RULES = "\n".join(
    [
        'currency_known | upper(trim(currency)) in ["USD", "EUR", "GBP"] | the currencies paid in',
        "limit_positive | policy_limit + 1 > 0.0 | an int added to a double: does not type-check",
        "broken | amount >>> 3 | not CEL at all",
        "ghost | premium > 0.0 | a field the workflow does not have",
        "too_tight | amount < 10.0 | contradicted by the known-good events",
    ]
)
SCRIPT_RULES: list[dict[str, Any]] = [
    {
        "name": "currency",
        "match": {"contains": ["- currency: string"], "where": "last_user"},  # after the worked example
        "reply": {"rules": CURRENCY_RULES},
    },
    {"name": "nothing", "reply": {"rules": ""}},
]


@pytest.fixture
def llm_server_script() -> Script:
    return Script.model_validate({"models": ["dwf-test-model"], "rules": SCRIPT_RULES})


def test_model_rules_are_gated_and_only_proposed(
    tmp_path: Path, llm_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_LLM_DEFAULT__BASE_URL", llm_server.base_url)
    shutil.copy(CLAIMS / "claims.yaml", tmp_path / "claims.yaml")
    (tmp_path / "s.jsonl").write_text("\n".join(_good_claims(300)) + "\n")
    spec = tmp_path / "claims.yaml"
    result = CliRunner().invoke(
        app, ["objectives", "infer", str(spec), "--sample", str(tmp_path / "s.jsonl"), "--llm"]
    )
    assert result.exit_code == 0, result.output
    rules = {r.id: r for r in read_lock(lock_path(spec)).rules}
    assert rules["currency_known"].evidence["profile"] == "llm"
    assert rules["currency_known"].status == "proposed"  # nothing the model says is accepted by itself
    assert not {"limit_positive", "broken", "ghost", "too_tight"} & set(rules)
    assert llm_server.count() >= 2  # one call per target: the input, and the normalize step


def test_the_prompt_carries_the_steps_own_instructions() -> None:
    from dana_workflows.objectives.boundaries import boundaries
    from dana_workflows.objectives.llm_proposals import prompt_for
    from dana_workflows.objectives.sample import parse_sample
    from dana_workflows.workflow.spec import parse_spec

    ir = parse_spec((CLAIMS / "claims_llm.yaml").read_text())
    rows = [
        {
            "claim_id": "C1",
            "policy_id": "P1",
            "policy_limit": 1.0,
            "amount": 2.0,
            "currency": "usd",
            "description": "x",
            "submitted_at": 1,
            "risk": "low",
            "confidence": 0.9,
            "rationale": "r",
        }
    ]
    sample = parse_sample([json.dumps(r) for r in rows], ir.input, "s")
    bounds, _ = boundaries(ir, sample, sample)
    by_target = {b.target: prompt_for(ir, b)[0] for b in bounds}
    assert "Rate the fraud risk as low, medium or high" in by_target["step:triage.review.fraud_risk"]
    assert "amount_usd = upper(trim(currency))" in by_target["step:normalize"]
    assert "The step" not in by_target["input"]
