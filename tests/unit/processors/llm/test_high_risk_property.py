"""High risk is never bypassed, by the whole step: a property test (hypothesis) over generated events,
thresholds (as a calibration could set them, 0 included) and a known-answer table, against the test
server. Every event a declared high rule holds for gets a verification call, whatever else happens."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.efficiency.risk import Thresholds
from dana_workflows.processors.efficiency.state import EfficiencyState
from dana_workflows.processors.llm import LLMClient, LLMProcessor
from dana_workflows.workflow.efficiency_ir import KnownAnswerIR
from tests.fixtures.llm_server import LLMServerHandle
from tests.unit.processors.llm import test_poet_phases as phases
from tests.unit.processors.llm.test_poet_phases import envelope, run_one, step, summary

pytestmark = pytest.mark.unit

llm_server = phases.llm_server
llm_server_script = phases.llm_server_script


class Calibrated(EfficiencyState):
    """The real state, with the thresholds a calibration file would give."""

    def __init__(self, th: Thresholds) -> None:
        super().__init__("optimised")
        self.th = th

    def thresholds(self, workflow: str, step: str, explicit: str | None) -> Thresholds:
        return self.th


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.sampled_from(["all good", "fraud", "unsure", "fixable"]),
    amount=st.floats(min_value=0.0, max_value=3000.0, allow_nan=False),
    low=st.one_of(st.none(), unit),
    medium=st.one_of(st.none(), unit),
    known=st.booleans(),
)
def test_every_high_risk_event_is_verified(
    llm_server: LLMServerHandle,
    text: str,
    amount: float,
    low: float | None,
    medium: float | None,
    known: bool,
) -> None:
    table = (KnownAnswerIR(when="true", output={"decision": "approve", "share": 1.0, "confidence": 1.0}),)
    proc = LLMProcessor(step(known_answers=table if known else ()), "wf")

    async def one() -> Any:
        client = LLMClient(
            LLMEndpoint(base_url=llm_server.base_url), efficiency=Calibrated(Thresholds(low, medium))
        )
        try:
            return await run_one(proc, client, envelope(text, amount=amount))
        finally:
            await client.aclose()

    llm_server.reset_log()
    result = asyncio.run(one())
    if amount > 1000.0:  # the step's declared high rule
        s = summary(result)
        assert s["risk"]["tier"] == "high" and s["risk"]["verify"] is True
        assert any(e["rule"].startswith("verify") for e in llm_server.log())
