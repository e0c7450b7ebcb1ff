"""The payload fields an llm step's knowledge block adds (payload_types asks, the topics follow)."""

from __future__ import annotations

from dana_workflows.workflow.ir import AVRO_PRIMITIVES, FieldIR, LLMStepIR


def knowledge_fields(step: LLMStepIR) -> list[FieldIR]:
    """The payload fields a step's knowledge adds: exposed facts (null when missing) and the mix field."""
    sk = step.knowledge
    if sk is None:
        return []
    out = [
        FieldIR(name=name, type=exp.type, optional=True)  # type: ignore[arg-type]  # checked above
        for fact in sk.require
        for name, exp in fact.expose.items()
        if exp.type in AVRO_PRIMITIVES
    ]
    if sk.mix_field:
        out.append(FieldIR(name=sk.mix_field, type="string", optional=True))
    return out
