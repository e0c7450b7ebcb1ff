"""Compile the IR once into a graph of nodes the runtimes walk; no per-event dispatch on kinds.

Every node consumes exactly one boundary (a topic in Kafka mode, a hand-off in the local runtime):
"in" for the first step, the previous step's name after that, "<route>.<branch>" into a branch,
"<route>" where branches join again, and "out" (or a terminal branch's name) at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dana_workflows.processors.base import Processor
from dana_workflows.processors.enforce import EnforceProcessor
from dana_workflows.processors.recovery import DEFAULT, FALLBACK_MODEL, Ladder
from dana_workflows.processors.recovery import REVIEW as REVIEW_RUNG
from dana_workflows.processors.route import RouteProcessor
from dana_workflows.processors.transform import TransformProcessor
from dana_workflows.processors.validate import ValidateProcessor
from dana_workflows.workflow.ir import DLQ as DLQ  # the boundary names' home is workflow/ir.py
from dana_workflows.workflow.ir import ENTRY as ENTRY
from dana_workflows.workflow.ir import OUT as OUT
from dana_workflows.workflow.ir import REJECTED as REJECTED
from dana_workflows.workflow.ir import (
    RESERVED_STEP_NAMES,
    EnforceStepIR,
    FieldIR,
    LLMStepIR,
    RetryPolicyIR,
    RouteStepIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)
from dana_workflows.workflow.ir import RESUME as RESUME
from dana_workflows.workflow.payload_types import Fields, fields_after

# Events a recovery ladder hands to a person (docs/recovery.md). Reserved only in a workflow whose ladder
# has the review rung: many workflows route to a terminal branch of their own called review.
REVIEW = "review"
RESERVED_BOUNDARIES = RESERVED_STEP_NAMES  # the spec refuses them with a line; compiling checks again


class CompileError(ValueError):
    """A workflow that parsed but cannot be compiled into a pipeline."""


@dataclass(frozen=True, slots=True)
class Edge:
    boundary: str  # the topic suffix: dwf.<workflow>.<boundary>
    node: str | None  # the consuming node, None for a terminal output


@dataclass(slots=True)
class Node:
    path: str
    step: StepIR
    processor: Processor
    input: str
    emit: Edge | None = None
    branches: dict[str, Edge] = field(default_factory=dict)
    fallback: Processor | None = None  # an llm step's fallback_model rung: the step on its fallback models
    ladder: Ladder = field(init=False)  # what the executor does after a failed attempt

    def __post_init__(self) -> None:
        self.ladder = Ladder.of(self.step)

    @property
    def retry(self) -> RetryPolicyIR:
        return self.step.retry


@dataclass(slots=True)
class Pipeline:
    workflow: WorkflowIR
    nodes: dict[str, Node]
    boundaries: dict[str, Fields]  # boundary -> payload fields carried on it
    consumers: dict[str, str]  # boundary -> consuming node path
    terminals: list[str]  # boundaries that end a run with a result

    @property
    def entry_node(self) -> Node:
        return self.nodes[self.consumers[ENTRY]]

    @property
    def input_fields(self) -> list[FieldIR]:
        return list(self.workflow.input)

    @property
    def has_review(self) -> bool:
        """A ladder of this workflow can send an event to review (the boundary and topic exist)."""
        return any(REVIEW_RUNG in node.ladder.rungs for node in self.nodes.values())

    @property
    def has_llm_steps(self) -> bool:
        """An llm step needs a client (and its reply cache) in whichever runtime runs the pipeline."""
        return any(isinstance(node.step, LLMStepIR) for node in self.nodes.values())


def with_objective(ir: WorkflowIR) -> tuple[StepIR, ...]:
    """Objective constraints become an enforce stage at the end (objective-to-validation mapping)."""
    if not ir.objective.constraints:
        return ir.steps
    return (*ir.steps, EnforceStepIR(rules=ir.objective.constraints))


def build_processor(step: StepIR, workflow: str, **deps: Any) -> Processor:
    if isinstance(step, TransformStepIR):
        try:
            return TransformProcessor(step)
        except ValueError as exc:  # a function that cannot be imported: a spec the user can fix
            raise CompileError(f"step '{step.name}': {exc}") from None
    if isinstance(step, EnforceStepIR):
        return EnforceProcessor(step)
    if isinstance(step, ValidateStepIR):
        return ValidateProcessor(step)
    if isinstance(step, RouteStepIR):
        return RouteProcessor(step)
    if isinstance(step, LLMStepIR):
        try:
            from dana_workflows.processors.llm import LLMProcessor
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise CompileError(
                f"step '{step.name}' is an llm step, but the llm runtime is missing: {exc}"
            ) from exc
        return LLMProcessor(step, workflow)
    raise CompileError(f"unknown step kind {step!r}")  # pragma: no cover - the IR is a closed union


def compile_pipeline(ir: WorkflowIR) -> Pipeline:
    p = Pipeline(ir, {}, {}, {}, [])
    fields: Fields = {f.name: f for f in ir.input}
    _build(p, with_objective(ir), "", ENTRY, fields, Edge(OUT, None))
    p.terminals.insert(0, OUT)
    p.boundaries[OUT] = _final_fields(ir)
    if p.has_review and REVIEW in p.boundaries:
        raise CompileError(
            f"a recovery ladder sends events to '{REVIEW}', but a step or terminal branch of that name "
            "already has the topic; rename it (e.g. manual_review)"
        )
    return p


def _final_fields(ir: WorkflowIR) -> Fields:
    fields: Fields = {f.name: f for f in ir.input}
    for step in with_objective(ir):
        fields = fields_after(step, fields)
    return fields


def _build(
    p: Pipeline, steps: tuple[StepIR, ...], prefix: str, entry: str, fields: Fields, exit: Edge
) -> None:
    boundary, current = entry, fields
    for i, step in enumerate(steps):
        path = f"{prefix}{step.name}"
        if path in RESERVED_BOUNDARIES:
            raise CompileError(f"step name '{step.name}' is reserved for a topic; rename the step")
        p.boundaries[boundary] = current
        p.consumers[boundary] = path
        node = Node(path, step, build_processor(step, p.workflow.name), boundary)
        _arm_ladder(node)
        p.nodes[path] = node
        after = fields_after(step, current)
        last = i == len(steps) - 1
        next_edge = exit if last else Edge(path, f"{prefix}{steps[i + 1].name}")
        if isinstance(step, RouteStepIR):
            routed = {**current, step.field: FieldIR(name=step.field, type="string")}
            for branch in step.branches:
                tail = Edge(branch.name, None) if branch.terminal else next_edge
                if branch.terminal:
                    if branch.name in p.boundaries or branch.name in RESERVED_BOUNDARIES:
                        raise CompileError(
                            f"terminal branch '{branch.name}' clashes with a topic name; rename it"
                        )
                    p.terminals.append(branch.name)
                    p.boundaries[branch.name] = _fields_through(branch.steps, routed)
                if branch.steps:
                    b_entry = f"{path}.{branch.name}"
                    node.branches[branch.name] = Edge(b_entry, f"{b_entry}.{branch.steps[0].name}")
                    _build(p, branch.steps, f"{b_entry}.", b_entry, routed, tail)
                else:
                    node.branches[branch.name] = tail
        else:
            node.emit = next_edge
        boundary, current = next_edge.boundary, after


def _arm_ladder(node: Node) -> None:
    """What the node's rungs need. With a fallback_model rung the ladder, not the client, moves to the
    fallback models: the first attempt asks the primary model only, the rung the fallbacks only."""
    ladder, step = node.ladder, node.step
    if DEFAULT in ladder.rungs and not ladder.default:
        raise CompileError(f"step '{node.path}': the default rung needs default fields (docs/recovery.md)")
    if FALLBACK_MODEL not in ladder.rungs:
        return
    if not isinstance(step, LLMStepIR) or not step.fallback_models:
        raise CompileError(
            f"step '{node.path}': a fallback_model rung needs an llm step with fallback_models "
            "(docs/recovery.md)"
        )
    from dana_workflows.processors.llm import LLMProcessor

    assert isinstance(node.processor, LLMProcessor)
    node.fallback = node.processor.on_models(step.fallback_models)
    node.processor = node.processor.on_models((step.model,))


def _fields_through(steps: tuple[StepIR, ...], fields: Fields) -> Fields:
    for s in steps:
        fields = fields_after(s, fields)
    return fields
