"""The llm step, in POET phases: perceive (input checks), operate (the call), enforce (objectives, risk).

Two modes of the same code (docs/efficiency.md), chosen per step (``efficiency.mode``), per workflow
(top-level ``efficiency``) or for a whole worker (``DWF_LLM_EFFICIENCY``, which wins):

* **optimised** (the default, processors/llm/poet_optimised.py): symbols settle what they can, then one
  structured call does perceive, operate and enforce at once, then the symbolic enforce, then a
  verification call only when the risk assessor asks for one.
* **naive** (processors/llm/poet_naive.py): the baseline the savings are measured against - a perceive
  call, an operate call and an enforce call per event, no cache.

Both send an answer that breaks an objective rule back once, naming the rule; if the next answer breaks
one too the step fails and its recovery policy takes over. Each phase is a timed audit row.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import cel

from dana_workflows.processors.base import Outcome, Phase, RuleResult, StepContext
from dana_workflows.processors.efficiency.budget import Refused, Reservation
from dana_workflows.processors.efficiency.risk import RiskAssessor
from dana_workflows.processors.llm.cache import NO_CACHE, LLMCache, MappingLLMCache
from dana_workflows.processors.llm.client import LLMClient, LLMRequest, LLMResult
from dana_workflows.processors.llm.knowledge_hook import LLMKnowledge
from dana_workflows.processors.llm.limits import RateLimiter, estimate_tokens
from dana_workflows.processors.llm.output import OutputSpec
from dana_workflows.processors.llm.phase_prompts import (
    CONFIDENCE,
    combined_extra,
    perceive_output,
    verify_output,
    with_fields,
)
from dana_workflows.processors.llm.poet_record import EventRecord
from dana_workflows.processors.llm.prompt import PromptError, PromptTemplate, RenderedPrompt
from dana_workflows.processors.rules import CompiledRule
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.cel_expr import CompiledExpr, compile_expr
from dana_workflows.workflow.efficiency_ir import BudgetIR
from dana_workflows.workflow.ir import LLMStepIR

NAIVE, OPTIMISED = "naive", "optimised"


class LLMProcessor:
    """A compiled llm step. Its limiter is shared by all the step's concurrent events in one worker."""

    kind = "llm"

    def __init__(self, step: LLMStepIR, workflow_name: str, *, window_s: float = 60.0) -> None:
        self.step = step
        self.name = step.name
        self.workflow = workflow_name
        where = f"workflow {workflow_name!r}, llm step {step.name!r}"
        self.template = PromptTemplate(step.prompt, step.system, where=where)
        self.output = OutputSpec(step.output, f"{workflow_name}_{step.name}")
        self.knowledge = LLMKnowledge.of(step, workflow_name)  # context engineering: docs/context.md
        self.template_id = step.template_id or f"{workflow_name}.{step.name}"
        self.models: tuple[str, ...] = (step.model, *step.fallback_models)  # the client's chain, in order
        try:
            self.guard: Any = cel.compile(step.when) if step.when else None
        except Exception as exc:  # the cel binding raises its own error types
            raise ValueError(f"{where}: 'when' is not a valid CEL expression ({exc}): {step.when!r}") from exc
        limits = step.limits
        self.limiter: RateLimiter | None = (
            RateLimiter(limits.rpm, limits.tpm, limits.concurrency, window_s=window_s, name=where)
            if (limits.rpm or limits.tpm or limits.concurrency)
            else None
        )
        eff = step.efficiency
        self.checks = [CompiledRule.of(r, step.name) for r in step.perceive]
        self.check_ir = {r.id: r for r in step.perceive}
        self.objectives = [CompiledRule.of(r, step.name) for r in step.enforce]
        self.objective_ir = {r.id: r for r in step.enforce}
        self.known: list[tuple[CompiledExpr, dict[str, Any]]] = [
            (compile_expr(k.when), dict(k.output)) for k in eff.known_answers
        ]
        self.assessor = RiskAssessor(eff.risk)
        names = [f.name for f in step.output]
        self.decision_fields = eff.decision_fields or (names[0],)
        self.confidence_field = eff.confidence_field or ("confidence" if "confidence" in names else None)
        asks = (
            self.confidence_field is None
        )  # no confidence field: the model reports one for the risk assessor
        self.combined_output = with_fields(self.output, combined_extra(bool(step.perceive), asks), "poet")
        self.naive_output = with_fields(self.output, combined_extra(False, asks), "naive")
        self.verify_output = verify_output(self.output)
        self.perceive_output = perceive_output(self.output.name)
        self.budgets: list[tuple[str, BudgetIR]] = []
        if eff.budget is not None:
            self.budgets.append((f"{workflow_name}.{step.name}", eff.budget))
        if eff.workflow_budget is not None:
            self.budgets.append((workflow_name, eff.workflow_budget))

    # -- the step ------------------------------------------------------------------------------
    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        from dana_workflows.processors.llm.poet_naive import run_naive
        from dana_workflows.processors.llm.poet_optimised import run_optimised

        client = ctx.llm if isinstance(ctx.llm, LLMClient) else None
        mode = self.mode(client)
        ev = EventRecord(mode, self.name)
        outcome = await (
            run_naive(self, env, ctx, ev) if mode == NAIVE else run_optimised(self, env, ctx, ev)
        )
        residual = ev.naive_calls - sum(ev.calls.values()) - sum(ev.avoided.values())
        if ev.settled_by == "budget" and residual > 0:
            ev.avoided["budget"] += residual  # what naive would still have spent on this event
        summary = ev.summary()
        if client is not None:
            client.efficiency.monitor.observe(self.workflow, self.name, summary)
        outcome.details = {**outcome.details, "dwf.eff": summary}
        outcome.phases = ev.phases
        return outcome

    def on_models(self, models: tuple[str, ...]) -> LLMProcessor:
        """This step asking only ``models`` (a recovery ladder's fallback_model rung, docs/recovery.md);
        it shares everything else, the step's rate limiter included."""
        twin = copy.copy(self)
        twin.models = tuple(models)
        return twin

    def mode(self, client: LLMClient | None) -> str:
        """The setting (an operator's switch, e.g. to measure) over the spec over the default."""
        override = client.efficiency.mode if client is not None else None
        return override or self.step.efficiency.mode or OPTIMISED

    # -- pieces both modes use -----------------------------------------------------------------
    def variables(self, env: Envelope) -> dict[str, Any]:
        meta = {"event_id": env.event_id, "run_id": env.run_id, "workflow": env.workflow, "step": self.name}
        return {**env.payload, "payload": env.payload, "event": meta}

    def render(self, env: Envelope) -> RenderedPrompt | Outcome:
        try:
            rendered = self.template.render(self.variables(env))
        except PromptError as exc:
            return Outcome.fail(env, error=str(exc))
        return rendered if self.knowledge is None else self.knowledge.attach(env, rendered, self.output)

    def guard_allows(self, env: Envelope) -> bool | Outcome:
        if self.guard is None:
            return True
        try:
            return bool(self.guard.execute(dict(env.payload)))
        except Exception as exc:
            return Outcome.fail(env, error=f"llm step {self.name!r}: 'when' failed on this event: {exc}")

    def skip(self, env: Envelope) -> Outcome:
        payload = {**env.payload, **self.output.nulls()}
        details = {
            "dwf.llm.outcome": "skipped",
            "dwf.llm.template_id": self.template_id,
            "dwf.llm.when": self.step.when,
        }
        return Outcome.emit(env.evolve(payload=payload), details=details)

    def client(self, env: Envelope, ctx: StepContext) -> LLMClient | Outcome:
        if not isinstance(ctx.llm, LLMClient):
            return Outcome.fail(env, error=f"llm step {self.name!r}: no LLM client in the step context")
        return ctx.llm

    def prepare(
        self, env: Envelope, ctx: StepContext, mode: str
    ) -> tuple[RenderedPrompt, LLMClient, LLMCache] | Outcome:
        """What a call needs: the rendered prompt, the client and the mode's cache (or why not)."""
        rendered = self.render(env)
        if isinstance(rendered, Outcome):
            return rendered
        client = self.client(env, ctx)
        if isinstance(client, Outcome):
            return client
        return rendered, client, self.cache(mode, client, ctx)

    def cache(self, mode: str, client: LLMClient, ctx: StepContext) -> LLMCache:
        if mode == NAIVE:
            return NO_CACHE
        # no cache on the client: the step state table is the cache (shared and durable in Kafka mode)
        return client.cache if client.cache is not None else MappingLLMCache(ctx.state)

    def request(
        self,
        rendered: RenderedPrompt,
        system: str,
        prompt: str,
        output: OutputSpec,
        history: tuple[dict[str, str], ...] = (),
    ) -> LLMRequest:
        return LLMRequest(
            models=self.models,
            prompt=prompt,
            system=system,
            output=output,
            temperature=self.step.temperature,
            max_tokens=self.step.limits.max_tokens,
            timeout_s=self.step.limits.timeout_s,
            template_id=self.template_id,
            template_version=self.step.template_version,
            prompt_hash=rendered.hash,
            limiter=self.limiter,
            history=history,
        )

    async def ask(
        self,
        ev: EventRecord,
        phase: str,
        req: LLMRequest,
        ctx: StepContext,
        client: LLMClient,
        cache: LLMCache,
    ) -> LLMResult | Refused:
        """One logical call: the budgets admit it, an identical call in flight shares it, the cache may
        answer it; only requests that went on the wire count as calls of ``phase``."""
        held: list[Reservation] = []
        if self.budgets:
            texts = [req.system, req.output.instruction(), req.prompt, *(m["content"] for m in req.history)]
            tokens_in = estimate_tokens(*texts)
            cost = client.cost(client.resolve(req.models[0]).endpoint, tokens_in, req.max_tokens)
            now = ctx.clock()
            for name, budget in self.budgets:
                admitted = client.efficiency.ledger(name, budget).admit(now, tokens_in + req.max_tokens, cost)
                if isinstance(admitted, Refused):
                    for r in held:
                        r.settle(0, 0.0)
                    return admitted
                held.append(admitted)
        if cache is NO_CACHE:  # naive mode: every call goes on the wire, identical ones too
            result, shared = await client.complete(req, cache=cache), False
        else:
            result, shared = await client.efficiency.coalescer.run(
                client.request_key(req), lambda: client.complete(req, cache=cache)
            )
        audit = dict(result.audit)
        on_wire = not shared and not audit.get("dwf.llm.cache_hit")
        if shared:
            ev.avoided["coalescing"] += 1
        elif not on_wire:
            ev.avoided["cache"] += 1
        else:
            ev.used(phase, audit)
        tokens = int(audit.get("gen_ai.usage.input_tokens") or 0) + int(
            audit.get("gen_ai.usage.output_tokens") or 0
        )
        cost_used = float(audit.get("dwf.llm.cost_usd") or 0.0)
        for r in held:
            r.settle(tokens if on_wire else 0, cost_used if on_wire else 0.0)
        output = dict(result.output) if result.output is not None else None  # a shared result stays intact
        return LLMResult(output=output, audit=audit, error=result.error, model=result.model)

    def violations(self, payload: Mapping[str, Any], answer: Mapping[str, Any]) -> list[RuleResult]:
        scope = {**payload, **answer}
        return [
            r for r in (c.check(scope) for c in self.objectives) if not r.passed and r.severity == "reject"
        ]

    def answer_of(self, output: Mapping[str, Any]) -> dict[str, Any]:
        return {f.name: output.get(f.name) for f in self.output.fields}

    def confidence_of(self, output: Mapping[str, Any]) -> float | None:
        value = output.get(self.confidence_field or CONFIDENCE)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def same_decision(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        return all(a.get(f) == b.get(f) for f in self.decision_fields)

    def anomalies(self, env: Envelope, results: Sequence[RuleResult]) -> list[str]:
        """Warn-severity failures here and at earlier steps (inferred objectives flag with warn rules)."""
        out = [f"rule {r.rule_id} failed (warn)" for r in results if not r.passed]
        for r in env.provenance.get("rule_results") or []:
            if not r.get("passed") and r.get("severity") == "warn":
                out.append(f"rule {r.get('rule_id')} failed at an earlier step (warn)")
        return out

    def budget_fallback(self, env: Envelope, ev: EventRecord, refused: Refused, phase: str) -> Outcome:
        """The declared fallback (output fields), else the step's recovery; the first refusal alerts."""
        ev.settled_by = "budget"
        ev.budget_alert = refused.alert
        ev.phase(phase, "budget", reason=refused.reason)
        if refused.alert:
            ev.phases.append(Phase("alert", "budget_exhausted", 0, {"reason": refused.reason}))
        details = {"dwf.llm.outcome": "budget", "dwf.eff.budget": refused.reason}
        fallback = next((dict(b.fallback) for _, b in self.budgets if b.fallback is not None), None)
        if fallback is None:
            return Outcome.fail(env, error=f"llm step {self.name!r}: {refused.reason}", details=details)
        payload = {**env.payload, **self.output.nulls(), **fallback}
        return Outcome.emit(env.evolve(payload=payload), details=details)

    def finish(
        self, env: Envelope, answer: dict[str, Any], res: LLMResult, rendered: RenderedPrompt
    ) -> Outcome:
        extra, notes = self.knowledge.settle(env, rendered, answer) if self.knowledge else ({}, {})
        provenance = {**env.provenance, "model": res.model, "prompt_hash": rendered.hash}
        if "dwf.knowledge.syncs" in notes:  # the source versions the answer rests on
            provenance["knowledge_versions"] = notes["dwf.knowledge.syncs"]
        out = env.evolve(payload={**env.payload, **answer, **extra}, provenance=provenance)
        return Outcome.emit(out, details={**res.audit, **notes})
