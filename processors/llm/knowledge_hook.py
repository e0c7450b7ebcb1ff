"""The llm step's knowledge, in the step's own terms: a prompt with its context, or an Outcome.

The work is in dana_workflows.knowledge (assembly, validation, replay); this module only turns its
answers into what the step passes around (RenderedPrompt, Outcome) and keeps, between the prompt and
the answer of one event, what was prepared for it. The knowledge base is the process's one for the
store the settings name (``DWF_KNOWLEDGE_DSN``, or knowledge_dsn in the config file), in both runtimes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from dana_workflows.core.clock import Clock, wall_clock_us
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.runtime import KnowledgeBase, base_for
from dana_workflows.knowledge.step import Prepared, StepKnowledge
from dana_workflows.processors.base import Outcome
from dana_workflows.processors.llm.output import OutputSpec
from dana_workflows.processors.llm.prompt import RenderedPrompt, with_context
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import LLMStepIR

_PENDING = 4096  # events between their prompt and their answer, per step (more: the oldest are dropped)


class LLMKnowledge:
    def __init__(
        self,
        step: LLMStepIR,
        workflow: str,
        *,
        base: KnowledgeBase | None = None,
        clock: Clock = wall_clock_us,
    ) -> None:
        assert step.knowledge is not None
        self.step = StepKnowledge(step.knowledge, workflow, step.name, step.model)
        self.base = base
        self.clock = clock
        self._pending: OrderedDict[str, Prepared] = OrderedDict()

    @classmethod
    def of(cls, step: LLMStepIR, workflow: str) -> LLMKnowledge | None:
        return cls(step, workflow) if step.knowledge is not None else None

    def _base(self) -> KnowledgeBase:
        if self.base is None:
            from dana_workflows.core.settings import load_settings

            # the config file's knowledge_dsn too: the store `dana-wf knowledge sync` wrote to
            self.base = base_for(load_settings().knowledge_dsn, self.step.ir.max_age_s)
        return self.base

    def attach(self, env: Envelope, rendered: RenderedPrompt, output: OutputSpec) -> RenderedPrompt | Outcome:
        """The prompt with the assembled context before the question, or a failed Outcome (no call)."""
        instructions = f"{rendered.system}\n{output.instruction()}\n{rendered.user}"
        try:
            prepared = self.step.prepare(
                self._base(), env.payload, env.run_id, instructions, rendered.user, self.clock()
            )
        except KnowledgeError as exc:
            return Outcome.fail(
                env, error=f"{self.step.where}: {exc}", details={"dwf.knowledge.error": str(exc)}
            )
        if prepared.error is not None:
            return Outcome.fail(env, error=prepared.error, details=prepared.details)
        final = with_context(rendered, prepared.context)
        self._pending[f"{env.run_id}/{final.hash}"] = prepared
        while len(self._pending) > _PENDING:
            self._pending.popitem(last=False)
        return final

    def settle(
        self, env: Envelope, rendered: RenderedPrompt, answer: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(payload fields, audit details) the knowledge adds to a good answer."""
        prepared = self._pending.pop(f"{env.run_id}/{rendered.hash}", None)
        if prepared is None:
            return {}, {}
        extra, notes = self.step.settle(prepared, env.payload, answer)
        return extra, {**prepared.details, **notes}
