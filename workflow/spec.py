"""The YAML workflow spec -> the IR, with every problem reported at once.

A domain expert writes the spec; so every error names the file, the line, the field and the fix.
See docs/spec.md for the format and docs/spec.schema.json for editor support.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from workflow.cel_expr import ExpressionError, compile_expr
from workflow.errors import SpecError, SpecProblem
from workflow.ir import (
    AVRO_PRIMITIVES,
    BranchIR,
    DeriveIR,
    DriftIR,
    EnforceStepIR,
    FieldIR,
    LLMStepIR,
    ObjectiveIR,
    RetryPolicyIR,
    RouteStepIR,
    RuleIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)
from workflow.payload_types import Fields, fields_after

STEP_KINDS = ("transform", "validate", "route", "llm")
STEP_OPTIONS = ("retry", "description", "as")
TOP_KEYS = ("workflow", "version", "description", "input", "objective", "steps", "drift")
RESERVED_VARIABLES = frozenset({"null", "true", "false"})


class _Collector:
    """Collects problems with line numbers looked up from ruamel's position info."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[SpecProblem] = []

    def add(self, node: Any, key: Any, path: str, message: str, fix: str = "") -> None:
        self.problems.append(SpecProblem(self.file, _line(node, key), path, message, fix))

    def unknown_keys(self, node: Any, allowed: tuple[str, ...], prefix: str) -> bool:
        """Report every key of `node` outside `allowed` (with the closest allowed one); True if none."""
        clean = True
        for k in node:
            if k not in allowed:
                self.add(node, k, f"{prefix}{k}", "unknown key", _suggest(str(k), allowed))
                clean = False
        return clean


def _line(node: Any, key: Any = None) -> int:
    try:
        if key is not None and isinstance(node, CommentedMap) and key in node:
            return int(node.lc.key(key)[0]) + 1
        if key is not None and isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            return int(node.lc.item(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(sorted(options))}"


def load_spec(path: str | Path) -> WorkflowIR:
    """Parse and check a spec file; raise SpecError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(
            [SpecProblem(str(p), 0, "<file>", f"cannot read: {exc.strerror}", "check the path")]
        ) from None
    return parse_spec(text, str(p), base_dir=p.parent)


def parse_spec(text: str, file: str = "<string>", base_dir: Path | None = None) -> WorkflowIR:
    c = _Collector(file)
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise SpecError(
            [SpecProblem(file, line, "<yaml>", f"not valid YAML: {exc}", "fix the YAML syntax")]
        ) from None
    if not isinstance(doc, CommentedMap):
        raise SpecError(
            [SpecProblem(file, 1, "<root>", "a spec is a mapping", "start with 'workflow: NAME'")]
        )

    c.unknown_keys(doc, TOP_KEYS, "")
    name = doc.get("workflow")
    if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
        c.add(
            doc, "workflow", "workflow", "needs a name of letters, digits, - or _", "workflow: claims-triage"
        )
        name = "invalid"
    version = doc.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        c.add(doc, "version", "version", "must be a positive whole number", "version: 1")
        version = 1

    inputs = _parse_input(doc.get("input"), doc, c, base_dir)
    objective = _parse_objective(doc.get("objective"), doc, c)
    steps_node = doc.get("steps")
    steps: list[StepIR] = []
    if not isinstance(steps_node, CommentedSeq) or not steps_node:
        c.add(
            doc, "steps", "steps", "a workflow needs a list of steps", "steps:\n  - check: {validate: [...]}"
        )
    else:
        steps = _parse_steps(steps_node, "steps", c)
    drift = _parse_drift(doc.get("drift"), doc, c)

    if steps:
        _check_names_and_fields(steps, {f.name: f for f in inputs}, objective, c, steps_node)
    if c.problems:
        raise SpecError(c.problems)
    try:
        return WorkflowIR(
            name=str(name),
            version=int(version),
            description=str(doc.get("description", "")),
            input=tuple(inputs),
            objective=objective,
            steps=tuple(steps),
            drift=drift,
            source=file,
        )
    except ValidationError as exc:
        raise SpecError([SpecProblem(file, 0, _loc(e["loc"]), e["msg"]) for e in exc.errors()]) from None


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc)


def _parse_type(value: Any) -> tuple[str, bool] | None:
    if not isinstance(value, str):
        return None
    optional = value.endswith("?")
    base = value[:-1] if optional else value
    return (base, optional) if base in AVRO_PRIMITIVES else None


def _parse_fields(node: Any, parent: Any, key: str, path: str, c: _Collector) -> list[FieldIR]:
    if not isinstance(node, CommentedMap) or not node:
        c.add(parent, key, path, "a mapping of field names to types", f"{key}:\n  amount: double")
        return []
    out: list[FieldIR] = []
    for fname, ftype in node.items():
        parsed = _parse_type(ftype)
        if parsed is None:
            c.add(
                node,
                fname,
                f"{path}.{fname}",
                f"unknown type {ftype!r}",
                f"use one of {', '.join(AVRO_PRIMITIVES)} (add '?' for optional, e.g. 'string?')",
            )
            continue
        if not str(fname).isidentifier():
            c.add(
                node, fname, f"{path}.{fname}", "field names must be identifiers", "use letters, digits and _"
            )
            continue
        out.append(FieldIR(name=str(fname), type=parsed[0], optional=parsed[1]))  # type: ignore[arg-type]
    return out


def _parse_input(node: Any, doc: Any, c: _Collector, base_dir: Path | None) -> list[FieldIR]:
    if isinstance(node, CommentedMap) and set(node) == {"schema"}:
        return _fields_from_avsc(node, c, base_dir)
    if node is None:
        c.add(doc, None, "input", "missing: the fields of an input event", "input:\n  claim_id: string")
        return []
    return _parse_fields(node, doc, "input", "input", c)


def _fields_from_avsc(node: CommentedMap, c: _Collector, base_dir: Path | None) -> list[FieldIR]:
    ref = Path(str(node["schema"]))
    path = ref if ref.is_absolute() else (base_dir or Path(".")) / ref
    try:
        schema = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        c.add(
            node, "schema", "input.schema", f"cannot read Avro schema {path}: {exc}", "point to an .avsc file"
        )
        return []
    out = []
    for f in schema.get("fields", []):
        t = f["type"]
        optional = isinstance(t, list) and "null" in t
        base = next((x for x in t if x != "null"), None) if isinstance(t, list) else t
        if base not in AVRO_PRIMITIVES:
            c.add(
                node,
                "schema",
                f"input.schema.{f['name']}",
                f"unsupported Avro type {t!r}",
                "use primitive fields (string, long, int, double, float, boolean)",
            )
            continue
        out.append(FieldIR(name=f["name"], type=base, optional=optional, doc=f.get("doc", "")))
    return out


def _parse_rule(
    node: Any, parent: Any, key: Any, path: str, c: _Collector, expr_key: str = "rule"
) -> RuleIR | None:
    if not isinstance(node, CommentedMap):
        c.add(parent, key, path, "a rule is a mapping", '{id: positive_amount, rule: "amount > 0.0"}')
        return None
    ok = c.unknown_keys(node, ("id", expr_key, "message", "severity"), f"{path}.")
    rid, expr = node.get("id"), node.get(expr_key)
    if not isinstance(rid, str) or not rid:
        c.add(node, None, f"{path}.id", "every rule needs an id", "id: positive_amount")
        ok = False
    if not isinstance(expr, str) or not expr:
        c.add(
            node,
            None,
            f"{path}.{expr_key}",
            "every rule needs a CEL expression",
            f'{expr_key}: "amount > 0.0"',
        )
        ok = False
    else:
        ok &= _check_expr(expr, node, expr_key, f"{path}.{expr_key}", c)
    severity = node.get("severity", "reject")
    if severity not in ("reject", "warn"):
        c.add(
            node, "severity", f"{path}.severity", f"unknown severity {severity!r}", "severity: reject or warn"
        )
        ok = False
    if not ok:
        return None
    return RuleIR(id=rid, expr=expr, message=str(node.get("message", "")), severity=severity)


def _check_expr(expr: str, node: Any, key: Any, path: str, c: _Collector) -> bool:
    try:
        compile_expr(expr)
    except ExpressionError as exc:
        c.add(node, key, path, str(exc), "see docs/spec.md#expressions for the CEL syntax")
        return False
    return True


def _parse_objective(node: Any, doc: Any, c: _Collector) -> ObjectiveIR:
    if node is None:
        return ObjectiveIR()
    if not isinstance(node, CommentedMap):
        c.add(
            doc,
            "objective",
            "objective",
            "a mapping with goal, constraints, success_criteria",
            "objective: {goal: ...}",
        )
        return ObjectiveIR()
    c.unknown_keys(node, ("goal", "constraints", "success_criteria"), "objective.")
    rules: list[RuleIR] = []
    cons = node.get("constraints") or []
    for i, r in enumerate(cons):
        rule = _parse_rule(r, cons, i, f"objective.constraints[{i}]", c)
        if rule is not None:
            rules.append(rule)
    crit = node.get("success_criteria") or []
    return ObjectiveIR(
        goal=str(node.get("goal", "")), constraints=tuple(rules), success_criteria=tuple(str(x) for x in crit)
    )


def _parse_retry(node: Any, parent: Any, path: str, c: _Collector, default: RetryPolicyIR) -> RetryPolicyIR:
    if node is None:
        return default
    try:
        return RetryPolicyIR(**{**default.model_dump(), **dict(node)})
    except (ValidationError, TypeError) as exc:
        msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        c.add(
            parent,
            "retry",
            path,
            f"invalid retry policy: {msg}",
            "retry: {max_attempts: 3, backoff_ms: 100, on_exhausted: dlq}",
        )
        return default


def _parse_steps(seq: CommentedSeq, path: str, c: _Collector) -> list[StepIR]:
    steps: list[StepIR] = []
    for i, item in enumerate(seq):
        ipath = f"{path}[{i}]"
        if not isinstance(item, CommentedMap) or len(item) != 1:
            c.add(
                seq,
                i,
                ipath,
                "each step is a mapping with one key, its name",
                "- check_claim:\n    validate: [...]",
            )
            continue
        name, body = next(iter(item.items()))
        spath = f"{ipath}.{name}"
        if not str(name).isidentifier():
            c.add(item, name, spath, "step names must be identifiers", "use letters, digits and _")
            continue
        if not isinstance(body, CommentedMap):
            c.add(
                item,
                name,
                spath,
                "a step needs its kind",
                f"{name}:\n  validate: [...]  # or transform, route, llm",
            )
            continue
        kinds = [k for k in body if k in STEP_KINDS]
        c.unknown_keys(body, STEP_KINDS + STEP_OPTIONS, f"{spath}.")
        if len(kinds) != 1:
            c.add(
                item,
                name,
                spath,
                f"a step has exactly one kind, found {len(kinds)}",
                f"give one of {', '.join(STEP_KINDS)}",
            )
            continue
        kind = kinds[0]
        step = _STEP_PARSERS[kind](str(name), body, kind, spath, c)
        if step is not None:
            steps.append(step)
    return steps


def _parse_transform(name: str, body: CommentedMap, kind: str, path: str, c: _Collector) -> StepIR | None:
    node = body[kind]
    if not isinstance(node, CommentedMap):
        c.add(
            body,
            kind,
            f"{path}.{kind}",
            "a mapping with set, rename, drop or function",
            'transform:\n  set: {currency: "upper(currency)"}',
        )
        return None
    c.unknown_keys(node, ("set", "rename", "drop", "function", "outputs"), f"{path}.{kind}.")
    derive: list[DeriveIR] = []
    pending_types: list[tuple[str, str, Any]] = []
    for fname, spec in (node.get("set") or {}).items():
        fpath = f"{path}.{kind}.set.{fname}"
        sets = node["set"]
        if isinstance(spec, str):
            if not _check_expr(spec, sets, fname, fpath, c):
                continue
            pending_types.append((str(fname), spec, sets))  # type: keeps the existing field's type
        elif isinstance(spec, CommentedMap) and "expr" in spec:
            parsed = _parse_type(spec.get("type"))
            if parsed is None:
                c.add(
                    spec,
                    "type",
                    fpath + ".type",
                    f"unknown type {spec.get('type')!r}",
                    f"use one of {', '.join(AVRO_PRIMITIVES)}",
                )
                continue
            if _check_expr(str(spec["expr"]), spec, "expr", fpath + ".expr", c):
                derive.append(DeriveIR(field=str(fname), expr=str(spec["expr"]), type=parsed[0]))  # type: ignore[arg-type]
        else:
            c.add(
                sets,
                fname,
                fpath,
                "a CEL expression or {expr: ..., type: ...}",
                f'{fname}: {{expr: "amount * 1.1", type: double}}',
            )
    outputs = (
        _parse_fields(node["outputs"], node, "outputs", f"{path}.{kind}.outputs", c)
        if "outputs" in node
        else []
    )
    function = node.get("function")
    if function is not None and (not isinstance(function, str) or ":" not in function):
        c.add(
            node,
            "function",
            f"{path}.{kind}.function",
            "a registered function as 'module:callable'",
            "function: mypkg.enrich:add_region",
        )
    step = TransformStepIR(
        name=name,
        derive=tuple(derive),
        rename={str(k): str(v) for k, v in (node.get("rename") or {}).items()},
        drop=tuple(str(x) for x in (node.get("drop") or [])),
        function=function if isinstance(function, str) else None,
        function_outputs=tuple(outputs),
        retry=_parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR()),
    )
    # Untyped `set` entries take the type of the field they overwrite: resolved in _check_names_and_fields.
    object.__setattr__(step, "__pending__", pending_types)
    return step


def _parse_validate(name: str, body: CommentedMap, kind: str, path: str, c: _Collector) -> StepIR | None:
    node = body[kind]
    if not isinstance(node, CommentedSeq) or not node:
        c.add(
            body,
            kind,
            f"{path}.{kind}",
            "a list of rules",
            'validate:\n  - {id: positive_amount, rule: "amount > 0.0"}',
        )
        return None
    rules = [_parse_rule(r, node, i, f"{path}.{kind}[{i}]", c) for i, r in enumerate(node)]
    ok = [r for r in rules if r is not None]  # keep the good rules so their fields get checked too
    if not ok:
        return None
    return ValidateStepIR(
        name=name,
        rules=tuple(ok),
        retry=_parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR()),
    )


def _parse_route(name: str, body: CommentedMap, kind: str, path: str, c: _Collector) -> StepIR | None:
    node = body[kind]
    if not isinstance(node, CommentedMap) or not node:
        c.add(
            body,
            kind,
            f"{path}.{kind}",
            "a mapping of branch names to CEL conditions",
            'route:\n  auto_pay: "amount < 1000.0"\n  review: "true"',
        )
        return None
    branches: list[BranchIR] = []
    for bname, spec in node.items():
        bpath = f"{path}.{kind}.{bname}"
        if not str(bname).isidentifier():
            c.add(node, bname, bpath, "branch names must be identifiers", "use letters, digits and _")
            continue
        if isinstance(spec, str):
            if _check_expr(spec, node, bname, bpath, c):
                branches.append(BranchIR(name=str(bname), when=spec))
        elif isinstance(spec, CommentedMap) and isinstance(spec.get("when"), str):
            c.unknown_keys(spec, ("when", "steps", "terminal"), f"{bpath}.")
            if not _check_expr(spec["when"], spec, "when", bpath + ".when", c):
                continue
            sub = spec.get("steps") or CommentedSeq()
            branches.append(
                BranchIR(
                    name=str(bname),
                    when=spec["when"],
                    steps=tuple(_parse_steps(sub, f"{bpath}.steps", c)),
                    terminal=bool(spec.get("terminal", False)),
                )
            )
        else:
            c.add(
                node,
                bname,
                bpath,
                "a CEL condition or {when: ..., steps: [...], terminal: bool}",
                f'{bname}: "amount < 1000.0"',
            )
    field = str(body.get("as", "route"))
    return RouteStepIR(
        name=name,
        branches=tuple(branches),
        field=field,
        retry=_parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR()),
    )


def _parse_llm(name: str, body: CommentedMap, kind: str, path: str, c: _Collector) -> StepIR | None:
    node = body[kind]
    if not isinstance(node, CommentedMap):
        c.add(
            body,
            kind,
            f"{path}.{kind}",
            "a mapping with prompt and output",
            "llm:\n  prompt: 'Assess {{ description }}'\n  output: {risk: string}",
        )
        return None
    for reserved in ("name", "kind", "retry", "output_fields"):
        if reserved in node:
            c.add(
                node,
                reserved,
                f"{path}.{kind}.{reserved}",
                "unknown key",
                "the step's name is its key; put retry: next to llm:, not inside it",
            )
            return None
    data = dict(node)
    out = _parse_fields(node.get("output"), node, "output", f"{path}.{kind}.output", c)
    data["output"] = tuple(out)
    if isinstance(data.get("when"), str) and not _check_expr(
        data["when"], node, "when", f"{path}.{kind}.when", c
    ):
        return None
    data.setdefault("template_id", f"{name}")
    data["retry"] = _parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR(max_attempts=1))
    try:
        return LLMStepIR(name=name, **data)
    except ValidationError as exc:
        for e in exc.errors():
            key = e["loc"][0] if e["loc"] else None
            c.add(
                node,
                key if key in node else None,
                f"{path}.{kind}.{_loc(e['loc'])}",
                e["msg"],
                "see docs/spec.md#llm",
            )
        return None


_STEP_PARSERS = {
    "transform": _parse_transform,
    "validate": _parse_validate,
    "route": _parse_route,
    "llm": _parse_llm,
}


def _parse_drift(node: Any, doc: Any, c: _Collector) -> DriftIR:
    if node is None:
        return DriftIR()
    try:
        return DriftIR.model_validate(_plain(node))
    except ValidationError as exc:
        for e in exc.errors():
            c.add(doc, "drift", f"drift.{_loc(e['loc'])}", e["msg"], "see docs/drift.md")
        return DriftIR()


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _check_names_and_fields(
    steps: list[StepIR], fields: Fields, objective: ObjectiveIR, c: _Collector, seq: Any
) -> None:
    """Resolve untyped derived fields, and check every expression reads fields that exist at that point."""
    seen: set[str] = set()
    final = _check_steps(steps, fields, c, seq, "steps", seen)
    for i, rule in enumerate(objective.constraints):
        _check_reads(rule.expr, final, c, None, f"objective.constraints[{i}].rule")


def _check_steps(
    steps: list[StepIR], fields: Fields, c: _Collector, seq: Any, path: str, seen: set[str]
) -> Fields:
    current = fields
    for i, step in enumerate(steps):
        spath = f"{path}[{i}].{step.name}"
        node = seq[i] if isinstance(seq, CommentedSeq) and i < len(seq) else None
        if step.name in seen:
            c.add(node, step.name, spath, "duplicate step name", "give every step its own name")
        seen.add(step.name)
        if isinstance(step, TransformStepIR):
            pending = getattr(step, "__pending__", [])
            resolved = list(step.derive)
            for fname, expr, sets in pending:
                if fname not in current:
                    c.add(
                        sets,
                        fname,
                        f"{spath}.transform.set.{fname}",
                        "a new field needs a type",
                        f'{fname}: {{expr: "{expr}", type: double}}',
                    )
                    continue
                resolved.append(DeriveIR(field=fname, expr=expr, type=current[fname].type))
            for d in resolved:
                _check_reads(d.expr, current, c, node, f"{spath}.transform.set.{d.field}")
            for old in step.rename:
                if old not in current:
                    c.add(
                        node,
                        step.name,
                        f"{spath}.transform.rename.{old}",
                        f"no field '{old}' to rename",
                        _suggest(old, current),
                    )
            object.__setattr__(step, "derive", tuple(resolved))
        elif isinstance(step, ValidateStepIR | EnforceStepIR):
            ids = set()
            for j, rule in enumerate(step.rules):
                if rule.id in ids:
                    c.add(
                        node,
                        step.name,
                        f"{spath}.validate[{j}].id",
                        f"duplicate rule id '{rule.id}'",
                        "give every rule its own id",
                    )
                ids.add(rule.id)
                _check_reads(rule.expr, current, c, node, f"{spath}.validate[{j}].rule")
        elif isinstance(step, RouteStepIR):
            routed = dict(current)
            routed[step.field] = FieldIR(name=step.field, type="string")
            for branch in step.branches:
                _check_reads(branch.when, current, c, node, f"{spath}.route.{branch.name}")
                _check_steps(list(branch.steps), routed, c, None, f"{spath}.route.{branch.name}.steps", seen)
        elif isinstance(step, LLMStepIR) and step.when:
            _check_reads(step.when, current, c, node, f"{spath}.llm.when")
        current = fields_after(step, current)
    return current


def _check_reads(expr: str, fields: Fields, c: _Collector, node: Any, path: str) -> None:
    compiled = compile_expr(expr)
    for var in compiled.variables:
        if var in fields or var in RESERVED_VARIABLES or _bound_by_macro(expr, var):
            continue
        c.add(node, None, path, f"reads '{var}', which is not a field at this step", _suggest(var, fields))


def _bound_by_macro(expr: str, var: str) -> bool:
    """Comprehension macros (all, exists, map, filter) bind their own variable: `xs.all(x, x > 0)`."""
    return any(
        f"{m}({var}," in expr.replace(" ", "") for m in ("all", "exists", "exists_one", "map", "filter")
    )
