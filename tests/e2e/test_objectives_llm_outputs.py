"""Output rules for an llm step, inferred from an earlier run's output records and enforced in that step.

claims_llm.yaml runs in-process against the project's test server (the example's own script: its replies
depend on the claim's description); the `.out.jsonl` records are the sample; inference proposes rules
on the fraud_risk step's answers; accepted, they become that step's `enforce` rules.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.devservices.llm_server.script import Script, load_script
from dana_workflows.processors.llm import LLMClient
from dana_workflows.workflow.ir import LLMStepIR, RouteStepIR
from dana_workflows.workflow.objectives_lock import lock_path, read_lock
from dana_workflows.workflow.spec import load_spec
from tests.e2e.test_objectives_cli import CLAIMS
from tests.fixtures.llm_server import LLMServerHandle
from tests.fixtures.local_runs import run_with_llm

pytestmark = pytest.mark.e2e
TARGET = "step:triage.review.fraud_risk"


@pytest.fixture
def llm_server_script() -> Script:
    return load_script(CLAIMS / "llm_script.yaml")


async def test_llm_step_outputs_get_rules_that_land_in_its_enforce(
    tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    spec_text = (CLAIMS / "claims_llm.yaml").read_text()
    lines = (CLAIMS / "events.jsonl").read_text().splitlines()[:600]
    client = LLMClient(LLMEndpoint(base_url=llm_server.base_url, timeout_s=5.0))
    run = await run_with_llm(spec_text, lines, tmp_path, client)
    out = run.out / f"dwf.{run.workflow}.out.jsonl"
    assert out.exists()
    spec = tmp_path / "claims_llm.yaml"
    shutil.copy(CLAIMS / "claims_llm.yaml", spec)

    result = CliRunner().invoke(app, ["objectives", "infer", str(spec), "--sample", str(out)])
    assert result.exit_code == 0, result.output
    rules = {r.id: r for r in read_lock(lock_path(spec)).rules if r.target == TARGET}
    assert rules["risk_domain"].rule == 'risk in ["high", "low", "medium"]'  # the script's three answers
    # and its three confidences, each fixed to one answer: the script's table (high 0.86, low 0.91,
    # medium 0.64), offered in place of their list
    assert (
        rules["confidence_by_risk"].rule
        == 'confidence == (risk == "high" ? 0.86 : risk == "low" ? 0.91 : 0.64)'
    )
    assert "confidence_domain" not in rules

    assert (
        CliRunner().invoke(app, ["objectives", "accept", str(spec), f"{TARGET}/risk_domain"]).exit_code == 0
    )
    triage = next(s for s in load_spec(spec).steps if isinstance(s, RouteStepIR))
    fraud = next(s for b in triage.branches for s in b.steps if isinstance(s, LLMStepIR))
    assert [r.id for r in fraud.enforce] == ["risk_domain@inferred.v1"]
