"""route: the first branch whose CEL condition holds; its name is written to the payload."""

from __future__ import annotations

from dana_workflows.processors.base import ROUTE, Outcome, RuleResult, StepContext, decided
from dana_workflows.processors.rules import ERROR_MARK, first_try
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.ir import RouteStepIR


class RouteProcessor:
    kind = "route"

    def __init__(self, step: RouteStepIR) -> None:
        self.name = step.name
        self.field = step.field
        self.branches = [(b.name, *first_try(compile_expr(b.when))) for b in step.branches]

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        payload = env.payload
        for name, cond, first in self.branches:
            try:
                try:  # the fast path called here, not through cond.evaluate: one Python call less a branch
                    taken = first(payload) is True
                except Exception:  # it deferred (or failed): evaluate decides, as it always does
                    taken = cond.evaluate(payload) is True
            except EvaluationError as exc:
                result = RuleResult(
                    f"{self.name}.{name}",
                    self.name,
                    False,
                    "reject",
                    f"cannot evaluate condition{ERROR_MARK}{exc})",
                    cond.bindings(payload),
                )
                return Outcome.reject(
                    env, [f"{self.name}.{name}: cannot evaluate condition: {exc}"], rule_results=[result]
                )
            if taken:
                env.payload = {**payload, self.field: name}
                env.provenance["route"] = name
                return decided(ROUTE, env, [], [], name)
        result = RuleResult(
            f"{self.name}.no_branch", self.name, False, "reject", "no branch condition held", {}
        )
        return Outcome.reject(env, [f"{self.name}: no branch condition held"], rule_results=[result])
