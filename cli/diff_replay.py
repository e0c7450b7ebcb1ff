"""Recorded inputs through two versions of a workflow in the local runtime, and what changed.

Both versions run the same lines in the same order, so each event has the same run id in both (the id
hashes workflow name, position and line). An event's decision is where it ended (out, a terminal branch,
rejected, dlq) and the branches it took; a change is an event whose decision differs. Its cause is the
first point where the two journeys part in the audit rows: the rules whose verdict differs at the step
that rejected (an objective constraint at enforce_objective), the route that chose another branch, or the
step that failed. When that rule or route reads the same text in both versions, the note names the
changed steps before it, the real source of the difference.

LLM steps answer from the local runtime's reply cache only (their endpoint is pointed at a closed port):
a prompt with no recorded reply fails as the step's policy says, and the change is attributed to
`llm:<step>` so it is never mistaken for a rule's effect.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.core.settings import Settings
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.app_builder import topology_for
from dana_workflows.streams.local.extras import attach_extras
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.workflow.ir import StepIR, WorkflowIR

NO_CALLS_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, so no reply is ever new
ENFORCE = "enforce_objective"
TERMINAL = ("completed", "rejected", "dlq")
# the kinds of cause a change is given (`<kind>:<where>`, made below; docs/changes.md lists them)
CAUSE_KINDS = ("route", "rule", "constraint", "input", "step", "llm")


@dataclass(frozen=True, slots=True)
class Journey:
    """One event in one version: how it ended and the audit rows that say why."""

    index: int
    outcome: str  # out, a terminal branch, rejected, dlq
    at: str  # the step that rejected or dead-lettered it ("" when it completed)
    routes: tuple[str, ...]  # step=branch, in order
    failed: tuple[str, ...]  # the reject rules that failed at `at`
    rows: tuple[AuditRow, ...]

    @property
    def decision(self) -> str:
        via = f" via {', '.join(self.routes)}" if self.routes else ""
        if self.outcome == "rejected":
            return f"rejected at {self.at} ({', '.join(self.failed) or 'no rule result'}){via}"
        if self.outcome == "dlq":
            return f"dlq at {self.at}{via}"
        return f"{self.outcome}{via}"


@dataclass(frozen=True, slots=True)
class Change:
    index: int  # position in the replayed input
    run_id: str  # the event's run id in both replays (and in `dana-wf run` of the same file)
    line: str
    old: str
    new: str
    causes: tuple[str, ...]  # e.g. route:triage, rule:check_claim.max_amount, constraint:within_limit
    detail: str


@dataclass(slots=True)
class Replay:
    journeys: dict[int, Journey]
    outcomes: Counter[str] = field(default_factory=Counter)
    llm_misses: int = 0  # events whose llm step found no recorded reply


def offline_settings(settings: Settings, workdir: Path) -> Settings:
    """The settings a replay runs with: no LLM endpoint reachable, schemas in a scratch directory."""
    closed = settings.llm_default.model_copy(update={"base_url": NO_CALLS_URL})
    endpoints = {
        k: v.model_copy(update={"base_url": NO_CALLS_URL}) for k, v in settings.llm_endpoints.items()
    }
    return settings.model_copy(
        update={
            "llm_default": closed,
            "llm_endpoints": endpoints,
            "data_dir": workdir,
            "schema_registry": None,
        }
    )


def replay(pipeline: Pipeline, lines: Sequence[str], settings: Settings) -> Replay:
    """Every line through the pipeline in this process, audit rows kept in memory (nothing is stored)."""
    rows: list[AuditRow] = []

    async def go() -> None:
        ctx = StepContext(clock=wall_clock_us, settings=settings)
        closers = attach_extras(pipeline, ctx, settings)
        runtime = LocalRuntime(pipeline, topology_for(pipeline, settings), None, collect_rows(rows), ctx)
        try:
            await runtime.run(lines)
        finally:
            for close in closers:
                await close()

    asyncio.run(go())
    return journeys(rows)


def journeys(rows: Sequence[AuditRow]) -> Replay:
    by_run: dict[str, list[AuditRow]] = {}
    for row in rows:
        if row.step != "drift" and not row.run_id.endswith(".drift"):
            by_run.setdefault(row.run_id, []).append(row)
    result = Replay({})
    for run_rows in by_run.values():
        run_rows.sort(key=lambda r: r.seq)
        first = run_rows[0]
        if first.kind != "received":
            continue
        index = int(json.loads(first.details).get("ordinal", -1))
        journey = _journey(index, run_rows)
        result.journeys[index] = journey
        result.outcomes[journey.outcome] += 1
        if any(_llm_missed(r) for r in run_rows):
            result.llm_misses += 1
    return result


def _journey(index: int, rows: list[AuditRow]) -> Journey:
    routes = tuple(f"{r.step}={r.decision}" for r in rows if r.kind == "routed")
    end = next((r for r in reversed(rows) if r.kind in TERMINAL), rows[-1])
    if end.kind == "completed":
        return Journey(index, end.decision, "", routes, (), tuple(rows))
    failed = tuple(r["rule_id"] for r in _results(end) if not r["passed"] and r["severity"] == "reject")
    return Journey(
        index, "rejected" if end.kind == "rejected" else "dlq", end.step, routes, failed, tuple(rows)
    )


def _results(row: AuditRow) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(row.rule_results or "[]")
    except json.JSONDecodeError:
        return []
    return parsed if isinstance(parsed, list) else []


def _llm_missed(row: AuditRow) -> bool:
    if row.details in ("", "{}") or "dwf.llm" not in row.details:
        return False
    details = json.loads(row.details)
    return details.get("dwf.llm.outcome") == "error" and not details.get("dwf.llm.cache_hit", False)


def compare(
    old: Replay, new: Replay, old_ir: WorkflowIR, new_ir: WorkflowIR, lines: Sequence[str]
) -> list[Change]:
    """Every event whose decision differs, with its causes."""
    changed = changed_parts(old_ir, new_ir)
    out = []
    for index in sorted(old.journeys.keys() & new.journeys.keys()):
        a, b = old.journeys[index], new.journeys[index]
        if a.decision == b.decision:
            continue
        causes, detail = _causes(a, b, changed)
        line = lines[index] if index < len(lines) else ""
        out.append(Change(index, a.rows[0].run_id, line, a.decision, b.decision, causes, detail))
    return out


def _signature(row: AuditRow) -> tuple[Any, ...]:
    verdicts = tuple(sorted((r["rule_id"], r["passed"]) for r in _results(row)))
    return (row.step, row.kind, row.decision, verdicts)


def _causes(a: Journey, b: Journey, changed: dict[str, str]) -> tuple[tuple[str, ...], str]:
    """Walk the new journey step by step next to the old one (a step only one version has is compared
    with nothing): the first step whose rows differ is where the decisions part."""
    old_steps, new_steps = _by_step(a.rows), _by_step(b.rows)
    for step, rows_b in new_steps.items():
        rows_a = old_steps.get(step)
        if rows_a is None:
            if rows_b[-1].kind in ("rejected", "dlq"):  # a step only the new version has stopped it
                return _at_divergence(_EMPTY_ROW, rows_b[-1], changed)
            continue
        if [_signature(r) for r in rows_a] != [_signature(r) for r in rows_b]:
            return _at_divergence(rows_a[-1], rows_b[-1], changed)
    for step, rows_a in old_steps.items():
        if step not in new_steps and rows_a[-1].kind in ("rejected", "dlq"):  # a removed step had stopped it
            return (f"step:{step}",), f"the step that {rows_a[-1].kind} it is gone"
    return ("step:?",), "the journeys differ in a way no single step explains"


def _by_step(rows: Sequence[AuditRow]) -> dict[str, list[AuditRow]]:
    steps: dict[str, list[AuditRow]] = {}
    for row in rows:
        steps.setdefault(row.step, []).append(row)
    return steps


_EMPTY_ROW = AuditRow("", 0, "", 0, "", "", "")


def _at_divergence(ra: AuditRow, rb: AuditRow, changed: dict[str, str]) -> tuple[tuple[str, ...], str]:
    step = rb.step or ra.step
    if _llm_missed(ra) or _llm_missed(rb):
        return (f"llm:{step}",), "no recorded LLM reply for the new prompt: the step ran without one"
    if "routed" in (ra.kind, rb.kind) and ra.step == rb.step and "rejected" not in (ra.kind, rb.kind):
        cause = f"route:{step}"
        return (cause,), f"{ra.decision or ra.kind} -> {rb.decision or rb.kind}" + _upstream(cause, changed)
    va = {r["rule_id"]: r["passed"] for r in _results(ra)}
    vb = {r["rule_id"]: r["passed"] for r in _results(rb)}
    differing = sorted(rid for rid in va.keys() | vb.keys() if va.get(rid) != vb.get(rid))
    if step == "ingest":
        return ("input:schema",), "the input schema decided differently: " + ", ".join(differing)
    if differing:
        causes = tuple(dict.fromkeys(_rule_cause(step, rid) for rid in differing))
        notes = "".join(_upstream(c, changed) for c in causes)
        verdicts = ", ".join(
            f"{rid}: {_verdict(va.get(rid))} -> {_verdict(vb.get(rid))}" for rid in differing
        )
        return causes, verdicts + notes
    cause = f"step:{step}"
    return (cause,), f"{ra.kind} -> {rb.kind}" + _upstream(cause, changed)


def _rule_cause(step: str, rule_id: str) -> str:
    if step == ENFORCE:
        return f"constraint:{rule_id}"
    if rule_id.startswith(f"{step}."):  # a route condition that could not be evaluated
        return f"route:{step}"
    return f"rule:{step}.{rule_id}"


def _verdict(passed: bool | None) -> str:
    return "not evaluated" if passed is None else ("pass" if passed else "fail")


def _upstream(cause: str, changed: dict[str, str]) -> str:
    """A note when the rule or route that decided is the same text in both versions."""
    if cause in changed:
        return ""
    own = cause.split(":", 1)[1].split(".", 1)[0]
    upstream = [name for name in changed if name.startswith("step:") and name != f"step:{own}"]
    if not upstream:
        return " (same text in both versions)"
    return f" (same text in both versions; its inputs changed in {', '.join(n[5:] for n in upstream)})"


def changed_parts(old: WorkflowIR, new: WorkflowIR) -> dict[str, str]:
    """Cause keys whose definition differs between the versions (key -> how)."""
    parts: dict[str, str] = {}
    a, b = _parts(old), _parts(new)
    for key in a.keys() | b.keys():
        if a.get(key) != b.get(key):
            parts[key] = "added" if key not in a else ("removed" if key not in b else "changed")
    return parts


def _parts(ir: WorkflowIR) -> dict[str, str]:
    parts: dict[str, str] = {"input:schema": json.dumps([f.model_dump() for f in ir.input], sort_keys=True)}
    for rule in ir.objective.constraints:
        parts[f"constraint:{rule.id}"] = rule.expr
    _step_parts(ir.steps, parts)
    return parts


def _step_parts(steps: Sequence[StepIR], parts: dict[str, str]) -> None:
    for step in steps:
        parts[f"step:{step.name}"] = json.dumps(step.model_dump(), sort_keys=True, default=str)
        if step.kind in ("validate", "enforce"):
            for rule in step.rules:
                parts[f"rule:{step.name}.{rule.id}"] = f"{rule.expr}|{rule.severity}"
        if step.kind == "route":
            parts[f"route:{step.name}"] = json.dumps([(b.name, b.when, b.terminal) for b in step.branches])
            for branch in step.branches:
                _step_parts(branch.steps, parts)
