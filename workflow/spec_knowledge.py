"""The spec's ``knowledge:`` section and each llm step's ``knowledge:`` block, checked together.

What is checked here, with the rest of the spec: source declarations, that a step names only declared
sources, that its filters, required facts and remembered fields read payload fields that exist at that
step, and that exposed fields have an Avro type. See docs/context.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from pydantic import ValidationError

from dana_workflows.workflow.ir import AVRO_PRIMITIVES, FieldIR, LLMStepIR
from dana_workflows.workflow.knowledge_ir import KnowledgeIR, KnowledgeSourceIR, SourceKind
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


@dataclass(frozen=True)
class KnownSources:
    """The sources the steps may name: those declared (parsed), and the ids of entries that were refused
    (reported at their own entry, so not again at each step that names them)."""

    knowledge: KnowledgeIR
    written: frozenset[str] = frozenset()

    def unknown(self, name: str) -> bool:
        return name not in self.written and name not in {s.id for s in self.knowledge.sources}


def knowledge_node(step_node: Any, name: str) -> Any:
    """The `knowledge:` mapping of an llm step's YAML node (its line for the step's problems), else None."""
    body = step_node.get(name) if isinstance(step_node, dict) else None
    llm = body.get("llm") if isinstance(body, dict) else None
    return llm.get("knowledge") if isinstance(llm, dict) else None


def check_step_knowledge(
    step: LLMStepIR, fields: dict[str, FieldIR], sources: KnownSources, c: Collector, node: Any, path: str
) -> None:
    """A step's knowledge block against the declared sources and the payload fields at that step."""
    sk = step.knowledge
    if sk is None:
        return
    where = f"{path}.llm.knowledge"
    declared = {s.id for s in sources.knowledge.sources}
    for name in sk.sources:
        if sources.unknown(name):
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
        if sources.unknown(fact.source):
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
