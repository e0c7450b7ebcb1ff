"""The one intermediate representation both the YAML spec and the `|` DSL compile to.

Pydantic at this edge: the IR is validated once, then compiled into plain processors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dana_workflows.workflow.efficiency_ir import EfficiencyIR
from dana_workflows.workflow.knowledge_ir import KnowledgeIR, StepKnowledgeIR
from dana_workflows.workflow.recovery_ir import RecoveryIR

AvroPrimitive = Literal["string", "long", "int", "double", "float", "boolean"]
AVRO_PRIMITIVES: tuple[str, ...] = ("string", "long", "int", "double", "float", "boolean")
# The boundaries every workflow has (processors/pipeline.py re-exports them, streams/topology.py names
# their topics): a top-level step cannot be named after one, since a step's name is its input boundary's
ENTRY = "in"
OUT = "out"
REJECTED = "rejected"
DLQ = "dlq"
RESUME = "resume"  # Kafka: reviewed and replayed events re-enter the worker here (processors/resume.py)
RESERVED_STEP_NAMES = frozenset({ENTRY, OUT, REJECTED, DLQ, RESUME, "audit", "drift"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldIR(_Model):
    name: str
    type: AvroPrimitive
    optional: bool = False  # Avro union with null
    doc: str = ""
    minimum: float | None = None  # declared range of a number: ingest rejects values outside it
    maximum: float | None = None
    sensitive: bool = False  # the recorded input keeps it only encrypted (docs/audit.md)
    symbols: tuple[str, ...] = ()  # an enum (type string): ingest refuses any other value (spec_enum.py)


class RuleIR(_Model):
    id: str
    expr: str  # CEL, must evaluate to a bool
    message: str = ""
    severity: Literal["reject", "warn"] = "reject"


class RetryPolicyIR(_Model):
    max_attempts: int = Field(default=3, ge=1)  # total attempts, the first included
    backoff_ms: int = Field(default=0, ge=0)  # base of an exponential backoff between attempts
    on_exhausted: Literal["dlq", "default"] = "dlq"
    default: dict[str, Any] | None = None  # payload fields to set when on_exhausted == "default"


class DeriveIR(_Model):
    field: str
    expr: str
    type: AvroPrimitive
    minimum: float | None = None  # declared range of the result (checked by `dana-wf validate`)
    maximum: float | None = None


class TransformStepIR(_Model):
    kind: Literal["transform"] = "transform"
    name: str
    derive: tuple[DeriveIR, ...] = ()
    rename: dict[str, str] = Field(default_factory=dict)
    drop: tuple[str, ...] = ()
    function: str | None = None  # "module:callable" registered Python function
    function_outputs: tuple[FieldIR, ...] = ()
    retry: RetryPolicyIR = RetryPolicyIR()
    recovery: RecoveryIR | None = None  # the ladder (docs/recovery.md); None: `retry` is the ladder


class ValidateStepIR(_Model):
    kind: Literal["validate"] = "validate"
    name: str
    rules: tuple[RuleIR, ...]
    retry: RetryPolicyIR = RetryPolicyIR()
    recovery: RecoveryIR | None = None  # the ladder (docs/recovery.md); None: `retry` is the ladder


class BranchIR(_Model):
    name: str
    when: str  # CEL condition; branches are tried in order, the first true wins
    steps: tuple[StepIR, ...] = ()
    terminal: bool = False  # ends at topic dwf.<wf>.<branch> instead of continuing


class RouteStepIR(_Model):
    kind: Literal["route"] = "route"
    name: str
    branches: tuple[BranchIR, ...]
    field: str = "route"  # payload field the chosen branch name is written to
    retry: RetryPolicyIR = RetryPolicyIR()
    recovery: RecoveryIR | None = None  # the ladder (docs/recovery.md); None: `retry` is the ladder


class LLMLimitsIR(_Model):
    rpm: int | None = None  # requests per minute
    tpm: int | None = None  # tokens per minute
    concurrency: int = 4
    timeout_s: float = 30.0
    max_tokens: int = 512


class LLMStepIR(_Model):
    kind: Literal["llm"] = "llm"
    name: str
    prompt: str  # Jinja2 template over the payload fields
    system: str = ""
    output: tuple[FieldIR, ...]  # typed fields the reply must hold; added to the payload
    model: str = "default"
    fallback_models: tuple[str, ...] = ()
    temperature: float = 0.0
    limits: LLMLimitsIR = LLMLimitsIR()
    when: str | None = None  # CEL: call the model only when true (symbolic first)
    template_id: str = ""
    template_version: str = "1"
    retry: RetryPolicyIR = RetryPolicyIR(max_attempts=1)
    recovery: RecoveryIR | None = None  # the ladder (docs/recovery.md); None: `retry` is the ladder
    # POET phases (processors/llm/processor.py): input checks run before any call (perceive), rules the
    # answer must meet (enforce); inferred rules, once accepted, arrive here as ordinary rules
    perceive: tuple[RuleIR, ...] = ()
    enforce: tuple[RuleIR, ...] = ()
    efficiency: EfficiencyIR = EfficiencyIR()  # mode, risk, bypass, budget, known answers: docs/efficiency.md
    knowledge: StepKnowledgeIR | None = None  # sources, budget, required facts: docs/context.md


class EnforceStepIR(_Model):
    """Objective constraints compiled into a final filter stage."""

    kind: Literal["enforce"] = "enforce"
    name: str = "enforce_objective"
    rules: tuple[RuleIR, ...]
    retry: RetryPolicyIR = RetryPolicyIR()
    recovery: RecoveryIR | None = None  # the ladder (docs/recovery.md); None: `retry` is the ladder


StepIR = Annotated[
    TransformStepIR | ValidateStepIR | RouteStepIR | LLMStepIR | EnforceStepIR,
    Field(discriminator="kind"),
]


class ObjectiveIR(_Model):
    goal: str = ""
    constraints: tuple[RuleIR, ...] = ()
    success_criteria: tuple[str, ...] = ()


class WindowIR(_Model):
    kind: Literal["tumbling", "hopping"] = "tumbling"
    size_s: int = 3600
    step_s: int | None = None  # hopping only
    time_field: str | None = None  # None: produced_at; else a payload field holding epoch seconds
    allowed_lateness_s: int = 0


class DriftMonitorIR(_Model):
    id: str
    field: str
    feature: Literal["categorical", "numeric", "text"] = "categorical"
    step: str | None = None  # observe after this step (None: the input)
    bins: tuple[float, ...] = ()  # numeric bin edges (fixed from the reference when empty)
    buckets: int = 32  # text: hashed token buckets
    warn_psi: float = 0.1
    alert_psi: float = 0.2
    warn_js: float | None = None  # Jensen-Shannon distance thresholds, off unless set: a window's
    alert_js: float | None = None  # level is the higher of what PSI and JS say
    reference_windows: int = 1
    baseline: str | None = None  # path to a pinned baseline file
    quantile_bins: int = 10  # numeric without `bins`: bins cut at the reference's quantiles
    min_count: int | None = None  # fewer events: scored, never warn/alert; None = derived from the bin count
    max_categories: int = 1000  # categorical: distinct values per window before `<other>`


class DriftIR(_Model):
    window: WindowIR = WindowIR()
    monitors: tuple[DriftMonitorIR, ...] = ()


class WorkflowIR(_Model):
    name: str
    version: int = 1
    description: str = ""
    input: tuple[FieldIR, ...]
    objective: ObjectiveIR = ObjectiveIR()
    steps: tuple[StepIR, ...]
    drift: DriftIR = DriftIR()
    knowledge: KnowledgeIR = KnowledgeIR()  # sources the llm steps draw on: docs/context.md
    source: str = "<python>"  # where it came from: a file path or "<python>"


BranchIR.model_rebuild()
