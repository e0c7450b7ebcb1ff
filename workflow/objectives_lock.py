"""The objectives lock file: reviewed rules next to the spec, merged into the IR when the spec loads.

`claims.yaml` has its lock in `claims.objectives.lock.yaml`. Each rule carries its origin (written,
inferred, edited), status (proposed, accepted, pinned, rejected), version and hash. Accepted and pinned
rules that were inferred or edited become ordinary rules: input rules a validate step `input_objectives`
at the head of the pipeline; a step's output rules its llm step's `enforce` rules, or a validate step
`<step>_objectives` right after any other step. Both runtimes compile them like written rules, and the
audit names each as `<id>@<origin>.v<version>`, so a rejection says which reviewed version made it.

A lock file that is broken (bad YAML, a rule that does not compile or reads no field, a rule changed by
hand so its hash no longer matches) is not half-applied: one warning lists every problem and the
workflow runs on its explicit objectives (docs/objectives.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from dana_workflows.core.yaml_errors import yaml_error_at
from dana_workflows.workflow.cel_expr import ExpressionError, compile_expr
from dana_workflows.workflow.ir import (
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    RuleIR,
    StepIR,
    ValidateStepIR,
    WorkflowIR,
)
from dana_workflows.workflow.payload_types import Fields, fields_after

log = logging.getLogger("dana_workflows.objectives")

LOCK_SUFFIX = ".objectives.lock.yaml"
INPUT_TARGET = "input"
INPUT_STEP = "input_objectives"
ENFORCED = ("accepted", "pinned")
RESERVED_WORDS = frozenset({"null", "true", "false"})

Origin = Literal["written", "inferred", "edited"]
Status = Literal["proposed", "accepted", "pinned", "rejected"]


class LockError(ValueError):
    """A lock file that cannot be used; the message names the file, the rule and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PendingChange(_Model):
    """A re-inference's different proposal for a rule, waiting for review; the rule stays as it was."""

    rule: str
    message: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)


class LockedRule(_Model):
    id: str
    target: str = INPUT_TARGET
    rule: str
    message: str = ""
    severity: Literal["reject", "warn"] = "reject"
    origin: Origin
    status: Status
    version: int = Field(default=1, ge=1)
    hash: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    pending: PendingChange | None = None

    @property
    def enforced(self) -> bool:
        return self.status in ENFORCED and self.origin != "written"  # written rules live in the spec

    @property
    def audited_id(self) -> str:
        return f"{self.id}@{self.origin}.v{self.version}"


class ObjectivesLock(_Model):
    lock_version: Literal[1] = 1
    workflow: str
    rules: list[LockedRule] = Field(default_factory=list)

    def find(self, target: str, rule_id: str) -> LockedRule | None:
        return next((r for r in self.rules if r.target == target and r.id == rule_id), None)


def rule_hash(target: str, rule: str, severity: str = "reject") -> str:
    """What a reviewed rule is: its target, its CEL text and its severity."""
    return "sha256:" + hashlib.sha256(f"{target}\n{rule}\n{severity}".encode()).hexdigest()


def lock_path(spec_path: str | Path) -> Path:
    p = Path(spec_path)
    stem = p.name.rsplit(".", 1)[0] if "." in p.name else p.name
    return p.with_name(stem + LOCK_SUFFIX)


def read_lock(path: Path) -> ObjectivesLock:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LockError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:  # a lock saved in another encoding: one line, like a spec's (N11)
        raise LockError(
            f"{path}: byte {exc.start} is not UTF-8 ({exc.reason}); save the file as UTF-8 or delete it and "
            "infer again"
        ) from None
    except YAMLError as exc:
        raise LockError(f"{yaml_error_at(path, exc)}; fix it or delete the file and infer again") from None
    try:
        return ObjectivesLock.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_where(data, e["loc"]) + f": {e['msg']}" for e in exc.errors()[:5])
        raise LockError(f"{path}: {problems}") from None


def _where(data: Any, path: tuple[Any, ...]) -> str:
    """A pydantic location as the rule id a reader can find: rules[3] -> rules[3] (amount_range)."""
    text = ".".join(str(x) for x in path)
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        with contextlib.suppress(KeyError, IndexError, TypeError):
            text += f" ({data['rules'][path[1]]['id']})"
    return text


def write_lock(path: Path, lock: ObjectivesLock) -> None:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    header = (
        f"# Objectives of workflow '{lock.workflow}', reviewed with `dana-wf objectives`.\n"
        "# Accepted and pinned rules are enforced; a rule changed by hand no longer matches its hash and\n"
        "# makes the whole file ignored: change rules with `dana-wf objectives edit`.\n"
    )
    with path.open("w", encoding="utf-8") as fh:
        fh.write(header)
        yaml.dump(lock.model_dump(mode="json", exclude_none=True), fh)


def lock_problems(lock: ObjectivesLock, ir: WorkflowIR) -> list[str]:
    """Every reason the enforced rules of `lock` cannot be merged into `ir` (none: merge them)."""
    problems = []
    if lock.workflow != ir.name:
        problems.append(f"written for workflow '{lock.workflow}', the spec is '{ir.name}'")
    boundaries = target_fields(ir)
    seen: set[tuple[str, str]] = set()
    for r in lock.rules:
        name = f"rule '{r.id}' ({r.target})"
        if (r.target, r.id) in seen:
            problems.append(f"{name}: the id appears twice for this target")
        seen.add((r.target, r.id))
        if r.hash != rule_hash(r.target, r.rule, r.severity):
            problems.append(
                f"{name}: changed by hand (its hash does not match); use `dana-wf objectives edit`"
            )
            continue
        if not r.enforced:
            continue
        if r.target not in boundaries:
            problems.append(f"{name}: no such target; targets are {', '.join(sorted(boundaries))}")
            continue
        try:
            compiled = compile_expr(r.rule)
        except ExpressionError as exc:
            problems.append(f"{name}: {str(exc).splitlines()[0]}")
            continue
        known = boundaries[r.target]
        missing = [v for v in compiled.fields_read if v not in known and v not in RESERVED_WORDS]
        if missing:
            problems.append(f"{name}: reads {', '.join(missing)}, not a field at {r.target}")
    return problems


def target_fields(ir: WorkflowIR) -> dict[str, Fields]:
    """Each target a lock rule may name, with the fields its rules may read."""
    out: dict[str, Fields] = {INPUT_TARGET: {f.name: f for f in ir.input}}
    _walk(ir.steps, dict(out[INPUT_TARGET]), "", out)
    return out


def _walk(steps: tuple[StepIR, ...], fields: Fields, prefix: str, out: dict[str, Fields]) -> Fields:
    current = fields
    for step in steps:
        path = f"{prefix}{step.name}"
        if isinstance(step, RouteStepIR):
            routed = {**current, step.field: FieldIR(name=step.field, type="string")}
            for branch in step.branches:
                _walk(branch.steps, dict(routed), f"{path}.{branch.name}.", out)
        current = fields_after(step, current)
        out[f"step:{path}"] = current
    return current


def merge_lock(ir: WorkflowIR, lock: ObjectivesLock) -> WorkflowIR:
    """`ir` with the lock's enforced rules as ordinary rules (call lock_problems first)."""
    by_target: dict[str, list[RuleIR]] = {}
    for r in lock.rules:
        if r.enforced:
            by_target.setdefault(r.target, []).append(as_rule(r))
    if not by_target:
        return ir
    steps = _merge_steps(ir.steps, "", by_target)
    if INPUT_TARGET in by_target:
        steps = (ValidateStepIR(name=INPUT_STEP, rules=tuple(by_target[INPUT_TARGET])), *steps)
    return ir.model_copy(update={"steps": steps})


def as_rule(r: LockedRule) -> RuleIR:
    short = r.hash.removeprefix("sha256:")[:12]
    message = f"{r.message or r.rule} [{r.origin} v{r.version} {short}]"
    return RuleIR(id=r.audited_id, expr=r.rule, message=message, severity=r.severity)


def _merge_steps(
    steps: tuple[StepIR, ...], prefix: str, by_target: dict[str, list[RuleIR]]
) -> tuple[StepIR, ...]:
    out: list[StepIR] = []
    for step in steps:
        path = f"{prefix}{step.name}"
        if isinstance(step, RouteStepIR):
            branches = tuple(
                b.model_copy(update={"steps": _merge_steps(b.steps, f"{path}.{b.name}.", by_target)})
                for b in step.branches
            )
            step = step.model_copy(update={"branches": branches})
        rules = by_target.get(f"step:{path}")
        if rules and isinstance(step, LLMStepIR):
            out.append(step.model_copy(update={"enforce": (*step.enforce, *rules)}))
            continue
        out.append(step)
        if rules:
            out.append(ValidateStepIR(name=f"{step.name}_objectives", rules=tuple(rules)))
    return tuple(out)


def apply_objectives_lock(ir: WorkflowIR, spec_path: str | Path) -> WorkflowIR:
    """The spec's IR with its lock file's enforced rules; the explicit objectives alone if the lock is
    missing, or broken (then one warning says every problem and that the lock was ignored)."""
    path = lock_path(spec_path)
    if not path.exists():
        return ir
    try:
        lock = read_lock(path)
    except LockError as exc:
        log.warning("objectives lock ignored, the workflow runs on its explicit objectives: %s", exc)
        return ir
    problems = lock_problems(lock, ir)
    if problems:
        log.warning(
            "objectives lock %s ignored, the workflow runs on its explicit objectives:\n%s",
            path,
            "\n".join(f"  - {p}" for p in problems),
        )
        return ir
    return merge_lock(ir, lock)
