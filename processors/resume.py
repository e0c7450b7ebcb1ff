"""Resuming an event at a step of the compiled pipeline: the one mechanism a reviewer's decision and a
dlq replay share, in both runtimes (docs/review.md).

A resumed envelope crosses a boundary of the *current* pipeline (encoded with its schema and decoded
again, as every step hand-off is) and runs from that boundary's consumer through the shared executor,
so it is decided and audited exactly as a fresh event would be from there on. Its audit rows extend the
event's existing hash chain: the caller sets ``chain_seq``/``chain_hash`` from the chain's tail, and the
first row it appends (``override`` or ``replayed``) says why the event moved again.

In the Kafka runtime the envelope travels on the workflow's ``resume`` topic with ``RESUME_MARK`` in its
provenance naming the boundary; the worker pops the mark and runs the rest of the workflow from there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.boundary import MISFIT_REASON
from dana_workflows.processors.ingest import INGEST, check_field
from dana_workflows.processors.pipeline import Node, Pipeline
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import OVERRIDE_KIND, AuditRow
from dana_workflows.workflow.ir import FieldIR, RouteStepIR
from dana_workflows.workflow.payload_types import Fields, fields_after

RESUME_MARK = "resume"  # provenance key of an envelope on the resume topic: {"boundary": <name>}
OVERRIDE = OVERRIDE_KIND  # the audit row kind of a reviewer's decision
REPLAYED = "replayed"  # audit row kind of a dlq event sent through the workflow again
KEEP = "keep"  # the decision that accepts the step's output as it is


class ResumeError(ValueError):
    """An event that cannot be resumed where it was asked to (the message says why and what to do)."""


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a resumed envelope goes on: the boundary it crosses next and that boundary's consumer
    (None: a terminal output, the event completes there)."""

    boundary: str
    node: str | None


def point_at(pipeline: Pipeline, boundary: str) -> ResumePoint:
    """The resume point of ``boundary`` in this pipeline, or why there is none."""
    if boundary in pipeline.consumers:
        return ResumePoint(boundary, pipeline.consumers[boundary])
    if boundary in pipeline.terminals:
        return ResumePoint(boundary, None)
    known = ", ".join(sorted(pipeline.consumers))
    raise ResumeError(
        f"boundary '{boundary}' is not in version {pipeline.workflow.version} of workflow "
        f"'{pipeline.workflow.name}' (its boundaries: {known})"
    )


def replay_point(pipeline: Pipeline, env: Envelope, reason: str) -> ResumePoint:
    """Where a dlq'd envelope runs again: the step that failed runs again on the payload it was given; a
    payload that did not fit a boundary's schema crosses that boundary again (under today's schema)."""
    if env.step == INGEST:
        raise ResumeError(
            f"event {env.run_id} was sent to dlq at ingest (the input line itself was unreadable): "
            "there is no step to run again; fix the line and run it as a new input"
        )
    if reason.startswith(MISFIT_REASON):
        return point_at(pipeline, env.step)  # the boundary after the step that produced the payload
    node = pipeline.nodes.get(env.step)
    if node is None:
        raise ResumeError(
            f"event {env.run_id} failed at step '{env.step}', which version {pipeline.workflow.version} "
            f"of workflow '{pipeline.workflow.name}' no longer has; it cannot be replayed into this version"
        )
    return ResumePoint(node.input, node.path)


def after_step(pipeline: Pipeline, node: Node, payload: dict[str, Any]) -> ResumePoint:
    """Where the reviewed step's output goes on: its next step, or (a route) the branch its field names."""
    if isinstance(node.step, RouteStepIR):
        chosen = payload.get(node.step.field)
        edge = node.branches.get(chosen) if isinstance(chosen, str) else None
        if edge is None:
            raise ResumeError(
                f"route '{node.path}' needs '{node.step.field}' set to one of its branches "
                f"({', '.join(node.branches)}), got {chosen!r}"
            )
    else:
        assert node.emit is not None  # every non-route node has its next edge
        edge = node.emit
    return ResumePoint(edge.boundary, edge.node)


def output_fields(pipeline: Pipeline, node: Node) -> Fields:
    """The fields the step writes: what a reviewer's decision may set in place of its output."""
    if isinstance(node.step, RouteStepIR):
        branches = tuple(node.branches)
        return {node.step.field: FieldIR(name=node.step.field, type="string", symbols=branches)}
    before = pipeline.boundaries[node.input]
    after = fields_after(node.step, before)
    return {name: f for name, f in after.items() if before.get(name) != f}


def parse_decision(items: Sequence[str], fields: Fields, step: str) -> dict[str, Any]:
    """The reviewer's ``--decision`` options as field values, each checked against the step's output field.

    An item is ``field=value`` (the value read as JSON when it parses, else taken as text, so
    ``label=fraud`` and ``approved=true`` both do what they say) or a JSON object of fields; ``keep``
    accepts the step's output as it is. Raises ResumeError naming the field and the fix."""
    if not items:
        raise ResumeError("give a decision: --decision field=value (repeat it), a JSON object, or keep")
    values: dict[str, Any] = {}
    for item in items:
        text = item.strip()
        if text == KEEP:
            continue
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ResumeError(f"decision {text!r} is not a JSON object: {exc}") from None
            values.update(parsed)
            continue
        name, sep, raw = text.partition("=")
        if not sep or not name.strip():
            raise ResumeError(f"decision {text!r}: write field=value, a JSON object, or keep")
        values[name.strip()] = _value(raw.strip())
    checked: dict[str, Any] = {}
    for name, value in values.items():
        f = fields.get(name)
        if f is None:
            allowed = ", ".join(f"{n}:{d.type}" for n, d in fields.items()) or "none: decide keep"
            raise ResumeError(f"step '{step}' does not write '{name}'; its output fields: {allowed}")
        coerced, problem = check_field(f, value)
        if problem is not None:
            raise ResumeError(f"decision for step '{step}': {problem}")
        checked[name] = coerced
    return checked


def check_complete(fields: Fields, payload: dict[str, Any], after: dict[str, Any], step: str) -> None:
    """A decision must leave every field the step writes set: a step that failed before writing its output
    (why most events reach review) has none, and a payload without them would not fit the next boundary's
    schema, sending the event to dlq after a decision that is final. Raises ResumeError naming them.

    When the step wrote none of its fields, its optional ones must be named too (``field=null`` to leave one
    empty on purpose): an llm step's answer fields are all optional (its ``when`` guard sets them null), so
    a decision setting one of them would otherwise leave the rest null unasked, and the rules after the step
    would reject the event on them, after a decision that is final."""
    wrote_nothing = all(payload.get(name) is None for name in fields)
    unset = [
        name
        for name, f in fields.items()
        if (wrote_nothing or not f.optional) and name not in after and payload.get(name) is None
    ]
    if unset:
        named = ", ".join(f"{name}:{fields[name].type}" for name in unset)
        may_be_empty = any(fields[name].optional for name in unset)
        raise ResumeError(
            f"step '{step}' did not write {named} (it failed before it could): the decision must set "
            f"{'it' if len(unset) == 1 else 'them'}, e.g. --decision {unset[0]}=..."
            + (" (field=null leaves an optional one empty)" if may_be_empty else "")
        )


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def decision_text(after: dict[str, Any]) -> str:
    """The override row's short decision: the fields set, or that the output was kept."""
    if not after:
        return KEEP
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in after.items())


def apply_override(
    env: Envelope,
    node: Node,
    after: dict[str, Any],
    *,
    reviewer: str,
    reason: str,
    now_us: int,
) -> AuditRow:
    """Replace the reviewed step's output by the decision; the ``override`` row (who, when, why, before
    and after) on the event's chain. ``env`` must carry the chain's tail; it is advanced past the row."""
    before = {name: env.payload.get(name) for name in after}
    env.payload.update(after)
    env.step = node.path
    env.attempt = 0
    env.provenance.pop("error", None)
    details = {
        "reviewer": reviewer,
        "before": before,
        "after": after,
        "decided_at_us": now_us,
        "step": node.step.name,  # the step as its efficiency summary names it (calibration feedback)
    }
    return transition(
        env, OVERRIDE, node.path, now_us, decision=decision_text(after), reason=reason, details=details
    )


def mark_replayed(env: Envelope, dlq_row: AuditRow, now_us: int, version: int) -> AuditRow:
    """The ``replayed`` row that links the new journey to the dlq record it replays; the envelope is
    moved to the current workflow version."""
    env.workflow_version = version
    env.attempt = 0
    details = {
        "original_run_id": dlq_row.run_id,
        "original_event_id": dlq_row.event_id,
        "dlq_hash": dlq_row.hash,
        "original_version": dlq_row.workflow_version,
    }
    return transition(
        env, REPLAYED, env.step, now_us, decision=REPLAYED, reason=dlq_row.reason, details=details
    )


def resumed_at(env: Envelope, point: ResumePoint) -> Envelope:
    """The envelope as it enters ``point``: named like a hand-off on that boundary (as the executor names
    envelopes it forwards)."""
    env.event_id = f"{env.run_id}/{point.boundary}"
    return env
