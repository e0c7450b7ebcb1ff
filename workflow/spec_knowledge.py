"""The spec's ``knowledge:`` section and each llm step's ``knowledge:`` block, checked together.

What is checked here, with the rest of the spec: source declarations, that a step names only declared
sources, that its filters, required facts and remembered fields read payload fields that exist at that
step, and that exposed fields have an Avro type. See docs/context.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from dana_workflows.workflow.ir import AVRO_PRIMITIVES, FieldIR, LLMStepIR, StepIR
from dana_workflows.workflow.knowledge_ir import KnowledgeIR
from dana_workflows.workflow.payload_types import walk
from dana_workflows.workflow.spec_support import Collector, loc, suggest

HINT = "see docs/context.md"


def plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def parse_knowledge(node: Any, doc: Any, c: Collector) -> KnowledgeIR:
    if node is None:
        return KnowledgeIR()
    try:
        return KnowledgeIR.model_validate(plain(node))
    except ValidationError as exc:
        for e in exc.errors():
            c.add(
                doc, "knowledge", f"knowledge.{loc(e['loc'])}", e["msg"].removeprefix("Value error, "), HINT
            )
        return KnowledgeIR()


def check_knowledge(
    steps: Sequence[StepIR], fields: dict[str, FieldIR], knowledge: KnowledgeIR, c: Collector
) -> None:
    """Every llm step's knowledge block (branches included), with the fields it receives."""
    for path, step, before in walk(tuple(steps), fields):
        if isinstance(step, LLMStepIR):
            check_step_knowledge(step, before, knowledge, c, None, f"steps.{path}")


def check_step_knowledge(
    step: LLMStepIR, fields: dict[str, FieldIR], knowledge: KnowledgeIR, c: Collector, node: Any, path: str
) -> None:
    """A step's knowledge block against the declared sources and the payload fields at that step."""
    sk = step.knowledge
    if sk is None:
        return
    where = f"{path}.llm.knowledge"
    declared = {s.id for s in knowledge.sources}
    for name in sk.sources:
        if name not in declared:
            c.add(
                node,
                None,
                f"{where}.sources",
                f"unknown source {name!r}",
                suggest(name, dict.fromkeys(declared)),
            )
    reads = [(f"{where}.where.{k}", v) for k, v in sk.where.items()]
    reads += [(f"{where}.remember", f) for f in sk.remember]
    for fact in sk.require:
        fpath = f"{where}.require.{fact.id}"
        if fact.source not in declared:
            c.add(
                node,
                None,
                f"{fpath}.source",
                f"unknown source {fact.source!r}: not in knowledge.sources",
                HINT,
            )
        reads += [(f"{fpath}.where.{k}", v) for k, v in fact.where.items()]
        for out, exp in fact.expose.items():
            if exp.type not in AVRO_PRIMITIVES:
                c.add(
                    node,
                    None,
                    f"{fpath}.expose.{out}.type",
                    f"unknown type {exp.type!r}",
                    f"use one of {', '.join(AVRO_PRIMITIVES)}",
                )
    for at, field in reads:
        if field not in fields:
            c.add(
                node, None, at, f"reads {field!r}, which is not a field at this step", suggest(field, fields)
            )
