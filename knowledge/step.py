"""One llm step's use of knowledge, per event: validate the required facts, assemble, record, replay.

``prepare`` runs before the call. It resolves the step's filters and required facts from the event,
assembles the context under the budget (or, for an event the step has answered before, rebuilds the
very context recorded then: replay), checks the facts (missing, stale) and applies the declared action:
``recover`` means no call and an error for the step's recovery policy, ``flag`` means call and say so in
the audit. ``settle`` runs after a good answer: the payload fields the facts expose, the mix of sources
and versions (for a drift monitor), and what the step remembers for later decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.core.run_ids import input_id
from dana_workflows.knowledge.assemble import CONTEXT_SECTIONS, Assembler, BudgetError, render
from dana_workflows.knowledge.facts import Fact, find_fact
from dana_workflows.knowledge.index import Candidate, ChunkIndex
from dana_workflows.knowledge.runtime import KnowledgeBase
from dana_workflows.knowledge.store import ContextUse
from dana_workflows.knowledge.validate import check_facts
from dana_workflows.workflow.knowledge_ir import StepKnowledgeIR

_CASTS = {"double": float, "float": float, "long": int, "int": int, "boolean": bool, "string": str}


@dataclass(slots=True)
class Prepared:
    context: str = ""  # the sections to put before the prompt
    error: str | None = None  # set: do not call; the step's recovery policy takes over
    details: dict[str, Any] = field(default_factory=dict)  # audit: chunk ids and versions, tokens, flags
    facts: dict[str, list[Candidate]] = field(default_factory=dict)
    mix: str = ""


class StepKnowledge:
    def __init__(self, ir: StepKnowledgeIR, workflow: str, step: str, model: str) -> None:
        self.ir = ir
        self.workflow = workflow
        self.step = step
        self.model = model
        self.where = f"workflow {workflow!r}, llm step {step!r}"
        self.sources = frozenset(ir.sources) if ir.sources else None

    def _facts(self, payload: Mapping[str, Any]) -> list[Fact]:
        return [
            Fact(f.id, f.source, {k: payload.get(v) for k, v in f.where.items()}) for f in self.ir.require
        ]

    def prepare(
        self,
        base: KnowledgeBase,
        payload: Mapping[str, Any],
        run_id: str,
        instructions: str,
        user: str,
        now_us: int,
    ) -> Prepared:
        base.refresh()
        facts = self._facts(payload)
        key = input_id(run_id)  # every run of one input replays the context its first answer used
        pinned = base.store.pinned(self.workflow, self.step, key)
        try:
            if pinned is not None:
                index, sections, resolved, missing, tokens = self._replay(base, pinned.layout, facts)
            else:
                index = base.index(self.model)
                filters = {k: payload.get(v) for k, v in self.ir.where.items()}
                query = user + "\n" + " ".join(str(v) for v in filters.values() if v is not None)
                asm = Assembler(index, self.ir.budget, self.ir.shares()).assemble(
                    query, instructions, filters=filters, sources=self.sources, facts=facts, where=self.where
                )
                sections = asm.sections
                resolved, missing, tokens = asm.facts, list(asm.missing), asm.tokens
        except BudgetError as exc:
            return Prepared(error=str(exc), details={"dwf.knowledge.error": str(exc)})
        check = check_facts(index, facts, base.snapshot.latest)
        stale = [*check.stale, *self._outdated(base, resolved)]
        missing = sorted({*missing, *check.missing})
        layout = [
            (s, c.chunk.chunk_id, c.chunk.version) for s in CONTEXT_SECTIONS for c in sections.get(s, [])
        ]
        used_sources = sorted({cid.split(":", 1)[0] for _, cid, _ in layout})
        current = {s: base.snapshot.syncs[s].sync_id for s in used_sources if s in base.snapshot.syncs}
        syncs = pinned.syncs if pinned is not None else current
        details: dict[str, Any] = {
            "dwf.knowledge.chunks": [[cid, v] for _, cid, v in layout],
            "dwf.knowledge.syncs": syncs,
            "dwf.knowledge.tokens": tokens,
            "dwf.knowledge.counter": index.counter.name,
            "dwf.knowledge.replayed": pinned is not None,
        }
        if missing:
            details["dwf.knowledge.missing"] = missing
        if stale:
            details["dwf.knowledge.stale"] = sorted(set(stale))
        actions = {f.id: (f.on_missing, f.on_stale) for f in self.ir.require}
        blocking = [
            f"required fact {m!r} is missing" for m in missing if actions.get(m, ("recover",))[0] == "recover"
        ]
        blocking += [
            f"required fact {s!r} is stale" for s in sorted(set(stale)) if actions[s][1] == "recover"
        ]
        if blocking:
            details["dwf.knowledge.action"] = "recover"
            return Prepared(error=f"{self.where}: {'; '.join(blocking)}; no call made", details=details)
        if missing or stale:
            details["dwf.knowledge.action"] = "flag"
        if pinned is None:
            base.store.pin(self.workflow, self.step, key, ContextUse(layout, syncs), now_us)
        context = "".join(render(s, sections.get(s, [])) for s in CONTEXT_SECTIONS)
        mix = ",".join(f"{s}@{syncs.get(s, '?')[:8]}" for s in used_sources)
        return Prepared(context, None, details, resolved, mix)

    def _replay(
        self, base: KnowledgeBase, pinned: list[tuple[str, str, str]], facts: list[Fact]
    ) -> tuple[ChunkIndex, dict[str, list[Candidate]], dict[str, list[Candidate]], list[str], dict[str, int]]:
        """The recorded context again, from the versions recorded (the sources may have changed since)."""
        got = base.versions(pinned)
        counter = base.index(self.model).counter
        index = ChunkIndex([c for _, c in got], counter, {c.source: s for s, c in got})
        sections: dict[str, list[Candidate]] = {s: [] for s in CONTEXT_SECTIONS}
        for cand in index.candidates:
            sections[cand.role].append(cand)
        resolved: dict[str, list[Candidate]] = {}
        missing = []
        for fact in facts:
            hits = [index.candidates[i] for i in find_fact(index, fact)]
            resolved[fact.id] = hits
            if not hits:
                missing.append(fact.id)
        text = "".join(render(s, sections[s]) for s in CONTEXT_SECTIONS)
        return index, sections, resolved, missing, {"context": counter.count(text)}

    def _outdated(self, base: KnowledgeBase, resolved: Mapping[str, list[Candidate]]) -> list[str]:
        """Facts whose chunk is older than its source's max_age_days (freshness below 1 at sync time)."""
        fresh = base.snapshot.freshness
        return [
            f for f, hits in resolved.items() if any(fresh.get(c.chunk.chunk_id, 1.0) < 1.0 for c in hits)
        ]

    def settle(
        self, prepared: Prepared, payload: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(payload fields to add, audit details to add) once the answer is in."""
        out: dict[str, Any] = {}
        for fact in self.ir.require:
            hits = prepared.facts.get(fact.id) or []
            for name, exp in fact.expose.items():
                value = hits[0].chunk.meta.get(exp.meta) if hits else None
                out[name] = None if value is None else _CASTS.get(exp.type, str)(value)
        if self.ir.mix_field:
            out[self.ir.mix_field] = prepared.mix
        details: dict[str, Any] = {}
        if self.ir.remember:
            details["dwf.memory"] = {
                "keys": {f: payload.get(f) for f in self.ir.remember},
                "answer": dict(answer),
            }
        return out, details
