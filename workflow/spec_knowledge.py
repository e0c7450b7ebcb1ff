"""The spec's ``knowledge:`` section and each llm step's ``knowledge:`` block, checked together.

What is checked here, with the rest of the spec: source declarations, that a step names only declared
sources, that its filters, required facts and remembered fields read payload fields that exist at that
step, and that exposed fields have an Avro type. See docs/context.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import ValidationError

from dana_workflows.workflow.ir import AVRO_PRIMITIVES, FieldIR, LLMStepIR, StepIR
from dana_workflows.workflow.knowledge_ir import KnowledgeIR, KnowledgeSourceIR, SourceKind
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
    data = plain(node)
    written = node.get("sources") if isinstance(node, dict) else None
    if isinstance(written, list):
        # each source on its own: one bad entry is reported alone, and the others stay declared for the
        # steps' checks (validated as one list, a bad entry dropped them all and every step's source
        # then read "unknown")
        data["sources"] = [s for i, s in enumerate(data["sources"]) if _source_ok(written, i, c)]
    try:
        return KnowledgeIR.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            c.add(
                doc, "knowledge", f"knowledge.{loc(e['loc'])}", e["msg"].removeprefix("Value error, "), HINT
            )
        return KnowledgeIR()


def _source_ok(seq: Any, i: int, c: Collector) -> bool:
    """Validate knowledge.sources[i]; report its problems with the entry's line, True if none."""
    entry = seq[i]
    try:
        KnowledgeSourceIR.model_validate(plain(entry))
    except ValidationError as exc:
        for e in exc.errors():
            key = e["loc"][0] if e["loc"] else None
            at = f"knowledge.sources[{i}]" + (f".{loc(e['loc'])}" if e["loc"] else "")
            where, at_key = (entry, key) if isinstance(entry, dict) and key in entry else (seq, i)
            message, fix = e["msg"].removeprefix("Value error, "), HINT
            if e["loc"] == ("kind",) and e["type"] == "literal_error":
                message, fix = f"unknown kind {e['input']!r}", suggest(str(e["input"]), get_args(SourceKind))
            c.add(where, at_key, at, message, fix)
        return False
    return True


def written_source_ids(node: Any) -> frozenset[str]:
    """The ids written in knowledge.sources, refused entries included (their own problem is reported)."""
    written = node.get("sources") if isinstance(node, dict) else None
    if not isinstance(written, list):
        return frozenset()
    return frozenset(s["id"] for s in written if isinstance(s, dict) and isinstance(s.get("id"), str))


def check_knowledge(
    steps: Sequence[StepIR],
    fields: dict[str, FieldIR],
    knowledge: KnowledgeIR,
    c: Collector,
    written: frozenset[str] = frozenset(),
) -> None:
    """Every llm step's knowledge block (branches included), with the fields it receives.

    `written`: the source ids the spec writes (written_source_ids); a name among them that did not parse
    is not reported again at each step that uses it.
    """
    for path, step, before in walk(tuple(steps), fields):
        if isinstance(step, LLMStepIR):
            check_step_knowledge(step, before, knowledge, c, None, f"steps.{path}", written)


def check_step_knowledge(
    step: LLMStepIR,
    fields: dict[str, FieldIR],
    knowledge: KnowledgeIR,
    c: Collector,
    node: Any,
    path: str,
    written: frozenset[str] = frozenset(),
) -> None:
    """A step's knowledge block against the declared sources and the payload fields at that step."""
    sk = step.knowledge
    if sk is None:
        return
    where = f"{path}.llm.knowledge"
    declared = {s.id for s in knowledge.sources}
    refused = written - declared  # reported at their own entry
    for name in sk.sources:
        if name not in declared and name not in refused:
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
        if fact.source not in declared and fact.source not in refused:
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
