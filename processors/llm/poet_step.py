"""What the POET phase modules (poet_naive, poet_optimised, poet_enforce) may use of their llm step.

A protocol, so those modules depend on this description and not on processor.py, which chooses between them:
the step's class imports the phases, the phases import only this (no import circle; docs/architecture.md).
``LLMProcessor`` satisfies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from dana_workflows.processors.base import Outcome, RuleResult, StepContext
from dana_workflows.processors.efficiency.budget import Refused
from dana_workflows.processors.efficiency.risk import RiskAssessor
from dana_workflows.processors.llm.cache import LLMCache
from dana_workflows.processors.llm.client import LLMClient, LLMRequest, LLMResult
from dana_workflows.processors.llm.output import OutputSpec
from dana_workflows.processors.llm.poet_record import EventRecord
from dana_workflows.processors.llm.prompt import RenderedPrompt
from dana_workflows.processors.rules import CompiledRule
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.cel_expr import CompiledExpr
from dana_workflows.workflow.ir import LLMStepIR, RuleIR


class PoetStep(Protocol):
    step: LLMStepIR
    name: str
    workflow: str
    output: OutputSpec
    combined_output: OutputSpec
    naive_output: OutputSpec
    perceive_output: OutputSpec
    verify_output: OutputSpec
    checks: list[CompiledRule]
    check_ir: dict[str, RuleIR]
    objective_ir: dict[str, RuleIR]
    known: list[tuple[CompiledExpr, dict[str, Any]]]
    assessor: RiskAssessor
    confidence_field: str | None
    guard: Any

    def anomalies(self, env: Envelope, results: Sequence[RuleResult]) -> list[str]: ...
    def answer_of(self, output: Mapping[str, Any]) -> dict[str, Any]: ...
    async def ask(
        self,
        ev: EventRecord,
        phase: str,
        req: LLMRequest,
        ctx: StepContext,
        client: LLMClient,
        cache: LLMCache,
    ) -> LLMResult | Refused: ...
    def budget_fallback(self, env: Envelope, ev: EventRecord, refused: Refused, phase: str) -> Outcome: ...
    def confidence_of(self, output: Mapping[str, Any]) -> float | None: ...
    def finish(
        self, env: Envelope, answer: dict[str, Any], res: LLMResult, rendered: RenderedPrompt
    ) -> Outcome: ...
    def guard_allows(self, env: Envelope) -> bool | Outcome: ...
    def prepare(
        self, env: Envelope, ctx: StepContext, mode: str
    ) -> tuple[RenderedPrompt, LLMClient, LLMCache] | Outcome: ...
    def request(
        self,
        rendered: RenderedPrompt,
        system: str,
        prompt: str,
        output: OutputSpec,
        history: tuple[dict[str, str], ...] = (),
    ) -> LLMRequest: ...
    def same_decision(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool: ...
    def skip(self, env: Envelope) -> Outcome: ...
    def violations(self, payload: Mapping[str, Any], answer: Mapping[str, Any]) -> list[RuleResult]: ...
