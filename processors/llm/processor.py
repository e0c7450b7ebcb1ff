"""The llm step: render the prompt, ask the model (cache first), validate, merge the typed output.

Symbolic first: a ``when`` guard (CEL) decides whether the model is needed at all; when it is not,
the output fields are set to null and no call is made.
"""

from __future__ import annotations

from typing import Any

import cel

from dana_workflows.processors.base import Outcome, StepContext
from dana_workflows.processors.llm.cache import MappingLLMCache
from dana_workflows.processors.llm.client import LLMClient, LLMRequest
from dana_workflows.processors.llm.limits import RateLimiter
from dana_workflows.processors.llm.output import OutputSpec
from dana_workflows.processors.llm.prompt import PromptError, PromptTemplate
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import LLMStepIR


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
        self.template_id = step.template_id or f"{workflow_name}.{step.name}"
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

    def _variables(self, env: Envelope) -> dict[str, Any]:
        meta = {"event_id": env.event_id, "run_id": env.run_id, "workflow": env.workflow, "step": self.name}
        return {**env.payload, "payload": env.payload, "event": meta}

    def _skip(self, env: Envelope) -> Outcome:
        payload = {**env.payload, **self.output.nulls()}
        details = {
            "dwf.llm.outcome": "skipped",
            "dwf.llm.template_id": self.template_id,
            "dwf.llm.when": self.step.when,
        }
        return Outcome.emit(env.evolve(payload=payload), details=details)

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        if self.guard is not None:
            try:
                wanted = self.guard.execute(dict(env.payload))
            except Exception as exc:
                return Outcome.fail(env, error=f"llm step {self.name!r}: 'when' failed on this event: {exc}")
            if not wanted:
                return self._skip(env)
        try:
            rendered = self.template.render(self._variables(env))
        except PromptError as exc:
            return Outcome.fail(env, error=str(exc))
        client = ctx.llm
        if not isinstance(client, LLMClient):
            return Outcome.fail(env, error=f"llm step {self.name!r}: no LLM client in the step context")
        request = LLMRequest(
            models=(self.step.model, *self.step.fallback_models),
            prompt=rendered.user,
            system=rendered.system,
            output=self.output,
            temperature=self.step.temperature,
            max_tokens=self.step.limits.max_tokens,
            timeout_s=self.step.limits.timeout_s,
            template_id=self.template_id,
            template_version=self.step.template_version,
            prompt_hash=rendered.hash,
            limiter=self.limiter,
        )
        # no cache on the client: the step state table is the cache (shared and durable in Kafka mode)
        cache = None if client.cache is not None else MappingLLMCache(ctx.state)
        result = await client.complete(request, cache=cache)
        if result.output is None:
            return Outcome.fail(env, error=f"llm step {self.name!r}: {result.error}", details=result.audit)
        provenance = {**env.provenance, "model": result.model, "prompt_hash": rendered.hash}
        out = env.evolve(payload={**env.payload, **result.output}, provenance=provenance)
        return Outcome.emit(out, details=result.audit)
