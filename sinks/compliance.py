"""The compliance report of a run or a period, built from the audit log alone (docs/compliance.md).

What it holds follows the automatic logging of the EU AI Act (Art. 12): for each use of the system (one
run: one input event's journey) the period of use (its first and last row), the reference data it was
checked against where recorded (the spec's version, the prompt template, the model and version that
answered, the knowledge sources' sync ids), the input data that led to the decision (the recorded input)
and the people who verified it (the reviewers of its overrides). Then every override (who, when, why,
before, after), the recovery ladder's figures, the model inventory of the scope, the hash chains'
status and, when a checkpoint location is given, whether the log still extends every checkpoint.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Any

from dana_workflows.core.clock import Clock, wall_clock_us
from dana_workflows.core.settings import ModelRecord
from dana_workflows.sinks.audit_model import (
    COLUMNS,
    OVERRIDE_KIND,
    AuditRow,
    AuditStore,
    events_table,
)
from dana_workflows.sinks.audit_scope import AuditScope, utc_text
from dana_workflows.sinks.model_inventory import ModelEntry, model_inventory
from dana_workflows.sinks.reader import to_row
from dana_workflows.sinks.verify import verify_rows


class EmptyScope(LookupError):
    """Nothing in the audit log falls in the scope asked for; the message says what to try."""


@dataclass
class Use:
    """One use of the system: the Art. 12 record of one run."""

    run_id: str
    workflow: str
    workflow_versions: list[int]
    start_us: int
    end_us: int
    outcome: str  # the last row's kind
    final_step: str
    decision: str
    reason: str
    input: str  # the input as recorded on `received` (sensitive fields encrypted or withheld)
    models: list[str] = field(default_factory=list)  # model@version that answered
    prompts: list[str] = field(default_factory=list)  # template id v version
    knowledge: list[str] = field(default_factory=list)  # source=sync id
    reviewers: list[str] = field(default_factory=list)

    @property
    def start(self) -> str:
        return utc_text(self.start_us)

    @property
    def end(self) -> str:
        return utc_text(self.end_us)


@dataclass
class Override:
    run_id: str
    step: str
    reviewer: str
    decided_at_us: int
    decision: str
    reason: str
    before: str  # compact JSON
    after: str

    @property
    def decided_at(self) -> str:
        return utc_text(self.decided_at_us)


@dataclass
class ChainStatus:
    runs: int
    rows: int
    findings: list[str]
    duplicates: int = 0  # of the findings, rows delivered twice: listed, not a break (as `audit verify`)

    @property
    def ok(self) -> bool:
        return len(self.findings) == self.duplicates


@dataclass
class CheckpointStatus:
    """What ``audit checkpoint verify`` found, or that no checkpoint location was given."""

    location: str | None = None
    checkpoints: int = 0
    rows_committed: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.location is None:
            return "none: no checkpoint location was given (--checkpoints)"
        if self.checkpoints == 0:
            return f"no checkpoint of these workflows in {self.location}"
        verdict = "the log extends every checkpoint" if self.ok else f"{len(self.findings)} findings"
        committed = f"{self.rows_committed} committed rows"
        return f"{self.checkpoints} checkpoints in {self.location}, {committed}: {verdict}"


@dataclass
class ComplianceReport:
    scope: str
    generated_us: int
    uses: list[Use]
    overrides: list[Override]
    recovery: list[dict[str, Any]]  # `dana-wf recovery report`'s figures (processors/recovery_report.py)
    inventory: list[ModelEntry]
    chain: ChainStatus
    checkpoints: CheckpointStatus
    transitions: dict[str, int]  # rows by kind

    @property
    def ok(self) -> bool:
        """The log verified: every hash chain, and every checkpoint when one was checked."""
        return self.chain.ok and self.checkpoints.ok

    @property
    def flagged_models(self) -> list[ModelEntry]:
        return [entry for entry in self.inventory if entry.flagged]

    @property
    def generated(self) -> str:
        return utc_text(self.generated_us)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "generated_us": self.generated_us,
            "generated": self.generated,
            "ok": self.ok,
            "uses": [{**asdict(u), "start": u.start, "end": u.end} for u in self.uses],
            "overrides": [{**asdict(o), "decided_at": o.decided_at} for o in self.overrides],
            "recovery": self.recovery,
            "model_inventory": [entry.as_dict() for entry in self.inventory],
            "unregistered_models": [entry.id for entry in self.flagged_models],
            "hash_chains": {**asdict(self.chain), "ok": self.chain.ok},
            "checkpoints": {
                **asdict(self.checkpoints),
                "ok": self.checkpoints.ok,
                "summary": self.checkpoints.summary(),
            },
            "transitions": self.transitions,
        }


def read_scope_rows(store: AuditStore, scope: AuditScope) -> list[AuditRow]:
    """Every row of every run in scope, in chain order (whole runs: see AuditScope.runs_where)."""
    table = events_table(store)
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE {scope.runs_where(table)} "
        "ORDER BY workflow, run_id, seq, ts_us"
    )
    return [to_row(values) for values in store.query(sql).rows]


def build_report(
    store: AuditStore,
    scope: AuditScope,
    registry: Sequence[ModelRecord],
    checkpoints: CheckpointStatus | None = None,
    clock: Clock = wall_clock_us,
    recovery: Sequence[dict[str, Any]] = (),
) -> ComplianceReport:
    """The report of `scope`; EmptyScope when the log holds nothing there. `recovery` is the recovery
    ladder's figures of the scope as `dana-wf recovery report` computes them (processors/recovery_report.py,
    a room above this one: the command passes them in), so both reports count alike."""
    rows = read_scope_rows(store, scope)
    if not rows:
        raise EmptyScope(_empty_message(scope))
    chain = verify_rows(rows)  # on the rows as stored: it names a row delivered twice
    rows = list({(r.workflow, r.run_id, r.seq): r for r in rows}.values())  # the rest counts each row once
    runs = [list(group) for _, group in groupby(rows, key=lambda r: (r.workflow, r.run_id))]
    overrides = [_override(row) for row in rows if row.kind == OVERRIDE_KIND]
    reviewers: dict[str, set[str]] = {}
    for o in overrides:
        reviewers.setdefault(o.run_id, set()).add(o.reviewer)
    return ComplianceReport(
        scope=scope.describe(),
        generated_us=clock(),
        uses=[_use(run, sorted(reviewers.get(run[0].run_id, ()))) for run in runs if _is_use(run)],
        overrides=overrides,
        recovery=list(recovery),
        inventory=model_inventory(store, scope, registry),
        chain=ChainStatus(chain.runs, chain.rows, [str(f) for f in chain.findings], len(chain.duplicates)),
        checkpoints=checkpoints or CheckpointStatus(),
        transitions=dict(sorted(Counter(row.kind for row in rows).items())),
    )


def _empty_message(scope: AuditScope) -> str:
    if scope.run_id:
        return (
            f"no audit rows for run {scope.run_id}; list runs with: "
            'dana-wf audit sql "SELECT DISTINCT run_id FROM dwf.events LIMIT 10"'
        )
    return (
        f"no audit rows in the {scope.describe()}; see when rows were written with: "
        'dana-wf audit sql "SELECT min(ts), max(ts) FROM dwf.events"'
    )


def _details(row: AuditRow) -> dict[str, Any]:
    try:
        parsed = json.loads(row.details)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _is_use(run: list[AuditRow]) -> bool:
    """An input event's journey starts with `received`; the workflow's own chains (drift, feedback,
    calibration: docs/audit.md) do not, and are verified but are no use of the system."""
    return any(row.kind == "received" for row in run)


def _recorded_input(run: list[AuditRow]) -> str:
    details = _details(next(row for row in run if row.kind == "received"))  # a use has one: _is_use
    if "input" in details:
        return str(details["input"])
    if "input_fields" in details:  # sensitive fields encrypted or withheld (docs/audit.md)
        return json.dumps(details["input_fields"], sort_keys=True, separators=(",", ":"))
    if "input_withheld" in details:
        return f"withheld: {details['input_withheld']}"
    return "not recorded (written before input recording existed)"


def _use(run: list[AuditRow], reviewers: list[str]) -> Use:
    models: set[str] = set()
    prompts: set[str] = set()
    knowledge: set[str] = set()
    for row in run:
        if "dwf.llm." not in row.details and "dwf.knowledge." not in row.details:
            continue  # cheap test before parsing: most rows are not LLM steps
        details = _details(row)
        model = details.get("dwf.llm.model_used") or details.get("gen_ai.request.model")
        if model:
            version = details.get("gen_ai.response.model")
            models.add(f"{model}@{version}" if version and version != model else str(model))
        if details.get("dwf.llm.template_id"):
            prompts.add(f"{details['dwf.llm.template_id']} v{details.get('dwf.llm.template_version', '')}")
        syncs = details.get("dwf.knowledge.syncs")
        if isinstance(syncs, dict):
            knowledge.update(f"{source}={sync}" for source, sync in syncs.items())
    last = run[-1]
    return Use(
        run_id=last.run_id,
        workflow=last.workflow,
        workflow_versions=sorted({row.workflow_version for row in run}),
        start_us=min(row.ts_us for row in run),
        end_us=max(row.ts_us for row in run),
        outcome=last.kind,
        final_step=last.step,
        decision=last.decision,
        reason=last.reason,
        input=_recorded_input(run),
        models=sorted(models),
        prompts=sorted(prompts),
        knowledge=sorted(knowledge),
        reviewers=reviewers,
    )


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _override(row: AuditRow) -> Override:
    details = _details(row)
    return Override(
        run_id=row.run_id,
        step=row.step,
        reviewer=str(details.get("reviewer") or "(not recorded)"),
        decided_at_us=int(details.get("decided_at_us") or row.ts_us),
        decision=row.decision,
        reason=row.reason,
        before=_compact(details.get("before", {})),
        after=_compact(details.get("after", {})),
    )
