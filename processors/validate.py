"""validate: business rules as a filter stage. A failing `reject` rule sends the event to `rejected`."""

from __future__ import annotations

from dana_workflows.processors.base import EMIT, REJECT, Outcome, StepContext
from dana_workflows.processors.rules import CompiledRule
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import EnforceStepIR, ValidateStepIR


class ValidateProcessor:
    kind = "validate"

    def __init__(self, step: ValidateStepIR | EnforceStepIR) -> None:
        self.name = step.name
        self.rules = [CompiledRule.of(r, step.name) for r in step.rules]

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        payload = env.payload
        results = [rule.check(payload) for rule in self.rules]
        reasons = [f"{r.rule_id}: {r.message}" for r in results if not r.passed and r.severity == "reject"]
        return Outcome(REJECT if reasons else EMIT, env, reasons, results)
