"""The step kinds of the YAML spec (transform, validate, route, llm) -> their IR, problems collected."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from dana_workflows.workflow.ir import (
    AVRO_PRIMITIVES,
    RESERVED_STEP_NAMES,
    BranchIR,
    DeriveIR,
    LLMLimitsIR,
    LLMStepIR,
    RetryPolicyIR,
    RouteStepIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
)
from dana_workflows.workflow.knowledge_ir import StepKnowledgeIR
from dana_workflows.workflow.spec_efficiency import parse_llm_poet
from dana_workflows.workflow.spec_fields import declared_range
from dana_workflows.workflow.spec_recovery import parse_recovery
from dana_workflows.workflow.spec_support import (
    Collector,
    check_expr,
    loc,
    parse_fields,
    parse_retry,
    parse_rule,
    parse_type,
)

STEP_KINDS = ("transform", "validate", "route", "llm")
STEP_OPTIONS = ("retry", "recovery", "description", "as")


def parse_steps(seq: CommentedSeq, path: str, c: Collector) -> list[StepIR]:
    steps: list[StepIR] = []
    for i, item in enumerate(seq):
        before = len(steps)
        _parse_one(seq, i, item, path, c, steps)
        if len(steps) == before:
            c.dropped_fields |= _written_fields(item)
        else:  # the written place, so the checks after a dropped step name the right index and line
            object.__setattr__(steps[-1], "__written_index__", i)
    return steps


def _written_fields(item: Any) -> set[str]:
    """The fields a written step item would write (best effort on a step its parser refused)."""
    body = next(iter(item.values()), None) if isinstance(item, CommentedMap) and len(item) == 1 else None
    if not isinstance(body, CommentedMap):
        return set()
    out: set[str] = set()
    llm, transform, route = body.get("llm"), body.get("transform"), body.get("route")
    if isinstance(llm, CommentedMap):
        if isinstance(llm.get("output"), CommentedMap):
            out |= {str(k) for k in llm["output"]}
        know = llm.get("knowledge")
        for req in know.get("require", ()) if isinstance(know, CommentedMap) else ():
            if isinstance(req, CommentedMap) and isinstance(req.get("expose"), CommentedMap):
                out |= {str(k) for k in req["expose"]}
    if isinstance(transform, CommentedMap):
        for key in ("set", "derive"):
            if isinstance(transform.get(key), CommentedMap):
                out |= {str(k) for k in transform[key]}
        if isinstance(transform.get("rename"), CommentedMap):
            out |= {str(v) for v in transform["rename"].values()}
    if isinstance(route, CommentedMap):
        out.add(str(body.get("as", "route")))
    return out


def _parse_one(seq: CommentedSeq, i: int, item: Any, path: str, c: Collector, steps: list[StepIR]) -> None:
    ipath = f"{path}[{i}]"
    if not isinstance(item, CommentedMap) or len(item) != 1:
        c.add(seq, i, ipath, *_not_one_key(item))
        return
    name, body = next(iter(item.items()))
    spath = f"{ipath}.{name}"
    if not str(name).isidentifier():
        c.add(item, name, spath, "step names must be identifiers", "use letters, digits and _")
        return
    if not isinstance(body, CommentedMap):
        c.add(
            item,
            name,
            spath,
            "a step needs its kind",
            f"{name}:\n  validate: [...]  # or transform, route, llm",
        )
        return
    if path == "steps" and name in RESERVED_STEP_NAMES:  # branch steps are named <route>.<branch>.<step>
        c.add(
            item,
            name,
            spath,
            f"step name '{name}' is reserved for a topic",
            f"rename the step, e.g. {name}_step",
        )
        return
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
        return
    kind = kinds[0]
    step = _STEP_PARSERS[kind](str(name), body, kind, spath, c)
    if step is not None and "recovery" in body:
        step = _with_recovery(step, body, kind, spath, c)
    if step is not None:
        steps.append(step)


def _with_recovery(step: StepIR, body: CommentedMap, kind: str, path: str, c: Collector) -> StepIR:
    """The step with its declared ladder (docs/recovery.md); `retry:` beside it would be a second one."""
    if "retry" in body:
        c.add(
            body,
            "retry",
            f"{path}.retry",
            "a step has retry: or recovery:, not both",
            "move max_attempts and backoff_ms into recovery: {retry: {...}}",
        )
        return step
    models = body[kind].get("fallback_models") if isinstance(body[kind], CommentedMap) else None
    recovery = parse_recovery(
        body["recovery"], body, f"{path}.recovery", c, kind=kind, fallback_models=models
    )
    return step if recovery is None else step.model_copy(update={"recovery": recovery})


def _parse_transform(name: str, body: CommentedMap, kind: str, path: str, c: Collector) -> StepIR | None:
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
            if not check_expr(spec, sets, fname, fpath, c):
                continue
            pending_types.append((str(fname), spec, sets))  # type: keeps the existing field's type
        elif isinstance(spec, CommentedMap) and "expr" in spec:
            parsed = parse_type(spec.get("type"))
            if parsed is None:
                c.add(
                    spec,
                    "type",
                    fpath + ".type",
                    f"unknown type {spec.get('type')!r}",
                    f"use one of {', '.join(AVRO_PRIMITIVES)}",
                )
                continue
            bounds = declared_range(spec, parsed[0], fpath, c)  # {expr, type, min, max}
            if check_expr(str(spec["expr"]), spec, "expr", fpath + ".expr", c) and bounds is not None:
                derive.append(
                    DeriveIR(
                        field=str(fname),
                        expr=str(spec["expr"]),
                        type=parsed[0],  # type: ignore[arg-type]
                        minimum=bounds[0],
                        maximum=bounds[1],
                    )
                )
        else:
            c.add(
                sets,
                fname,
                fpath,
                "a CEL expression or {expr: ..., type: ...}",
                f'{fname}: {{expr: "amount * 1.1", type: double}}',
            )
    outputs = (
        parse_fields(node["outputs"], node, "outputs", f"{path}.{kind}.outputs", c)
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
        retry=parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR()),
    )
    # Untyped `set` entries take the type of the field they overwrite: resolved in _check_names_and_fields.
    object.__setattr__(step, "__pending__", pending_types)
    return step


def _parse_validate(name: str, body: CommentedMap, kind: str, path: str, c: Collector) -> StepIR | None:
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
    rules = [parse_rule(r, node, i, f"{path}.{kind}[{i}]", c) for i, r in enumerate(node)]
    ok = [r for r in rules if r is not None]  # keep the good rules so their fields get checked too
    if not ok:
        return None
    return ValidateStepIR(
        name=name,
        rules=tuple(ok),
        retry=parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR()),
    )


def _parse_route(name: str, body: CommentedMap, kind: str, path: str, c: Collector) -> StepIR | None:
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
            if check_expr(spec, node, bname, bpath, c):
                branches.append(BranchIR(name=str(bname), when=spec))
        elif isinstance(spec, CommentedMap) and isinstance(spec.get("when"), str):
            c.unknown_keys(spec, ("when", "steps", "terminal"), f"{bpath}.")
            if not check_expr(spec["when"], spec, "when", bpath + ".when", c):
                continue
            sub = spec.get("steps") or CommentedSeq()
            branches.append(
                BranchIR(
                    name=str(bname),
                    when=spec["when"],
                    steps=tuple(parse_steps(sub, f"{bpath}.steps", c)),
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
        retry=parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR()),
    )


# The keys an llm step's mapping takes: the IR's, less the step's name and kind (its key) and its
# retry and recovery (beside llm:, not inside it); and those of the mappings inside it that pydantic
# checks (efficiency, perceive and enforce have parsers of their own)
LLM_KEYS = tuple(k for k in LLMStepIR.model_fields if k not in ("name", "kind", "retry", "recovery"))
INNER_KEYS = {"limits": tuple(LLMLimitsIR.model_fields), "knowledge": tuple(StepKnowledgeIR.model_fields)}


def _checked_level(where: tuple[int | str, ...]) -> bool:
    """True for a key of the llm mapping itself or of a mapping in INNER_KEYS: where unknown_keys looked."""
    return len(where) == 1 or (len(where) == 2 and where[0] in INNER_KEYS)


def _parse_llm(name: str, body: CommentedMap, kind: str, path: str, c: Collector) -> StepIR | None:
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
    for reserved in ("name", "kind", "retry", "recovery", "output_fields"):
        if reserved in node:
            c.add(
                node,
                reserved,
                f"{path}.{kind}.{reserved}",
                "unknown key",
                "the step's name is its key; put retry: and recovery: next to llm:, not inside it",
            )
            return None
    # A misspelt key gets the did-you-mean every other mapping of the spec gives, not pydantic's "Extra
    # inputs are not permitted" (which the loop below then skips for these two levels)
    c.unknown_keys(node, LLM_KEYS, f"{path}.{kind}.")
    for section, keys in INNER_KEYS.items():
        if isinstance(node.get(section), CommentedMap):
            c.unknown_keys(node[section], keys, f"{path}.{kind}.{section}.")
    data = dict(node)
    out = parse_fields(node.get("output"), node, "output", f"{path}.{kind}.output", c)
    data["output"] = tuple(out)
    if isinstance(data.get("when"), str) and not check_expr(
        data["when"], node, "when", f"{path}.{kind}.when", c
    ):
        return None
    data.setdefault("template_id", f"{name}")
    data["retry"] = parse_retry(body.get("retry"), body, f"{path}.retry", c, RetryPolicyIR(max_attempts=1))
    parse_llm_poet(node, data, f"{path}.{kind}", c)  # perceive, enforce, efficiency: docs/efficiency.md
    try:
        return LLMStepIR(name=name, **data)
    except ValidationError as exc:
        for e in exc.errors():
            if e["type"] == "extra_forbidden" and _checked_level(e["loc"]):
                continue  # reported above by unknown_keys, with the closest key
            key = e["loc"][0] if e["loc"] else None
            c.add(
                node,
                key if key in node else None,
                f"{path}.{kind}.{loc(e['loc'])}",
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


def _not_one_key(item: Any) -> tuple[str, str]:
    """The problem and fix for a step item that is not `- name: {kind: ...}`. The usual cause: the kind
    written level with the name (`- check_order:` then `validate:` under the dash), which YAML reads as two
    keys of the item, the name's own value empty."""
    keys = list(item) if isinstance(item, CommentedMap) else []
    if (
        len(keys) > 1
        and item[keys[0]] is None
        and any(k in STEP_KINDS or k in STEP_OPTIONS for k in keys[1:])
    ):
        name, rest = keys[0], ", ".join(str(k) for k in keys[1:])
        return (
            f"{rest} is level with the step's name '{name}', not inside it",
            f"indent {rest} two more spaces than '{name}:' (under the name, not under the dash)",
        )
    name = keys[0] if keys else item if isinstance(item, str) and item.isidentifier() else "check"
    return "each step is a mapping with one key, its name", f"- {name}: {{validate: [...]}}"
