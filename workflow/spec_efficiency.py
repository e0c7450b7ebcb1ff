"""The POET and efficiency parts of the spec: an llm step's ``perceive``/``enforce`` rules and
``efficiency`` mapping, and the workflow's top-level ``efficiency`` (a mode, or a mode and a budget).

    efficiency: naive                      # or {mode: optimised, budget: {tokens_per_hour: 200000}}
    steps:
      - assess:
          llm:
            perceive: [{id: has_text, rule: "size(reason) > 0"}]
            enforce:  [{id: within_total, rule: "refund <= order_total"}]
            efficiency:
              risk: {high: ["order_total > 2000.0"], confidence_floor: 0.6}
              bypass: {error_bound: 0.01}
              budget: {tokens_per_hour: 50000, fallback: {decision: review}}

Every problem names the line and the fix (docs/efficiency.md): a threshold outside 0-1, a budget of 0,
an unknown key, a rule that reads a field the step does not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from dana_workflows.workflow.efficiency_ir import (
    EFFICIENCY_MODES,
    BudgetIR,
    BypassIR,
    EfficiencyIR,
    KnownAnswerIR,
    RiskIR,
)
from dana_workflows.workflow.ir import LLMStepIR, RouteStepIR, RuleIR, StepIR
from dana_workflows.workflow.knowledge_fields import knowledge_fields
from dana_workflows.workflow.spec_support import Collector, check_expr, parse_rule, suggest

STEP_KEYS = ("mode", "risk", "bypass", "budget", "known_answers", "decision_fields", "confidence_field")
WORKFLOW_KEYS = ("mode", "budget")
_SECTIONS: dict[str, type[BaseModel]] = {"risk": RiskIR, "bypass": BypassIR, "budget": BudgetIR}
_FIXES = {
    "risk": 'risk: {high: ["amount > 5000.0"], medium: [], confidence_floor: 0.6}',
    "bypass": "bypass: {error_bound: 0.01, confidence_level: 0.95}",
    "budget": "budget: {tokens_per_hour: 100000, cost_per_hour: 2.0, fallback: {risk: review}}",
    "mode": "mode: naive   # or optimised",
}


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _where(node: Any, loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """The deepest (container, key) of a pydantic error location present in the YAML, for its line."""
    parent, key = node, None
    for part in loc:
        container = parent if key is None else parent[key]
        inside = (isinstance(container, CommentedMap) and part in container) or (
            isinstance(container, CommentedSeq) and isinstance(part, int) and part < len(container)
        )
        if not inside:
            break
        parent, key = container, part
    return parent, key


def _section(name: str, node: Any, parent: Any, path: str, c: Collector) -> Any:
    model = _SECTIONS[name]
    if not isinstance(node, CommentedMap):
        c.add(parent, name, path, f"'{name}' is a mapping", _FIXES[name])
        return None
    c.unknown_keys(node, tuple(model.model_fields), f"{path}.")
    try:
        return model.model_validate(_plain(node))
    except ValidationError as exc:
        for e in exc.errors():
            if e["type"] == "extra_forbidden":
                continue  # reported by unknown_keys with a did-you-mean
            where, key = _where(node, e["loc"])
            field = ".".join(str(x) for x in e["loc"])
            c.add(where, key, f"{path}.{field}", e["msg"], _FIXES[name])
        return None


def _mode(value: Any, parent: Any, key: str, path: str, c: Collector) -> str | None:
    if value is None:
        return None
    if value not in EFFICIENCY_MODES:
        c.add(parent, key, path, f"unknown efficiency mode {value!r}", suggest(str(value), EFFICIENCY_MODES))
        return None
    return str(value)


def _rules(node: Any, parent: Any, key: str, path: str, c: Collector) -> tuple[RuleIR, ...]:
    if node is None:
        return ()
    if not isinstance(node, CommentedSeq):
        c.add(parent, key, path, "a list of rules", '- {id: has_text, rule: "size(reason) > 0"}')
        return ()
    rules = [parse_rule(r, node, i, f"{path}[{i}]", c) for i, r in enumerate(node)]
    return tuple(r for r in rules if r is not None)


def _exprs(node: Any, path: str, c: Collector) -> bool:
    """Whether every risk rule compiles (each one that does not is reported)."""
    ok = True
    for tier in ("high", "medium"):
        seq = node.get(tier) if isinstance(node, CommentedMap) else None
        if isinstance(seq, CommentedSeq):
            for i, expr in enumerate(seq):
                if isinstance(expr, str):
                    ok &= check_expr(expr, seq, i, f"{path}.{tier}[{i}]", c)
    return ok


def _known(node: Any, parent: Any, path: str, c: Collector) -> tuple[KnownAnswerIR, ...]:
    if node is None:
        return ()
    fix = "known_answers: [{when: \"sku == 'GIFT'\", output: {decision: deny}}]"
    if not isinstance(node, CommentedSeq):
        c.add(parent, "known_answers", path, "a list of {when, output}", fix)
        return ()
    out: list[KnownAnswerIR] = []
    for i, item in enumerate(node):
        ipath = f"{path}[{i}]"
        if (
            not isinstance(item, CommentedMap)
            or not isinstance(item.get("when"), str)
            or not isinstance(item.get("output"), CommentedMap)
        ):
            c.add(node, i, ipath, "a known answer is {when: CEL, output: {field: value}}", fix)
            continue
        c.unknown_keys(item, ("when", "output"), f"{ipath}.")
        if check_expr(item["when"], item, "when", f"{ipath}.when", c):
            out.append(KnownAnswerIR(when=item["when"], output=_plain(item["output"])))
    return tuple(out)


def _names(node: Any, key: str, path: str, c: Collector) -> tuple[str, ...]:
    value = node.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        c.add(node, key, f"{path}.{key}", "a list of output field names", f"{key}: [risk]")
        return ()
    return tuple(value)


def parse_efficiency(node: Any, parent: Any, path: str, c: Collector) -> EfficiencyIR:
    """An llm step's ``efficiency`` mapping (problems collected; the defaults where it is wrong)."""
    if node is None:
        return EfficiencyIR()
    if not isinstance(node, CommentedMap):
        c.add(parent, "efficiency", path, "a mapping", "efficiency: {mode: optimised, risk: {...}}")
        return EfficiencyIR()
    c.unknown_keys(node, STEP_KEYS, f"{path}.")
    fields: dict[str, Any] = {}
    mode = _mode(node.get("mode"), node, "mode", f"{path}.mode", c)
    if mode is not None:
        fields["mode"] = mode
    for name in _SECTIONS:
        if name in node:
            parsed = _section(name, node[name], node, f"{path}.{name}", c)
            if parsed is not None:
                fields[name] = parsed
    if not _exprs(node.get("risk"), f"{path}.risk", c):
        fields.pop("risk", None)  # reported; its rules must not reach the read checks or the assessor
    fields["known_answers"] = _known(node.get("known_answers"), node, f"{path}.known_answers", c)
    fields["decision_fields"] = _names(node, "decision_fields", path, c)
    confidence = node.get("confidence_field")
    if confidence is not None:
        if not isinstance(confidence, str):
            c.add(
                node,
                "confidence_field",
                f"{path}.confidence_field",
                "an output field name",
                "confidence_field: score",
            )
        else:
            fields["confidence_field"] = confidence
    return EfficiencyIR(**fields)


# Where each checked setting of an llm step sits in the YAML, for the line of a problem found later (when
# the fields at the step are known), by collector and step path: llm steps in branches have no other way.
_NODES: WeakKeyDictionary[Collector, dict[str, dict[str, Any]]] = WeakKeyDictionary()


def _seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, CommentedSeq) else []


def _remember(node: CommentedMap, path: str, c: Collector) -> None:
    found: dict[str, Any] = {}
    for section in ("perceive", "enforce"):
        seq = node.get(section)
        for rule in seq if isinstance(seq, CommentedSeq) else ():
            if isinstance(rule, CommentedMap):
                found[f"llm.{section}.{rule.get('id')}"] = rule
    eff = node.get("efficiency")
    if isinstance(eff, CommentedMap):
        found["llm.efficiency"] = eff
        risk = eff.get("risk")
        if isinstance(risk, CommentedMap):
            for tier in ("high", "medium"):
                for i, _ in enumerate(_seq(risk.get(tier))):
                    found[f"llm.efficiency.risk.{tier}[{i}]"] = risk
            for item in _seq(risk.get("novelty")):
                if isinstance(item, CommentedMap):
                    found[f"llm.efficiency.risk.novelty.{item.get('field')}"] = item
        for i, item in enumerate(_seq(eff.get("known_answers"))):
            found[f"llm.efficiency.known_answers[{i}].when"] = item
        if isinstance(eff.get("budget"), CommentedMap):
            found["llm.efficiency.budget"] = eff["budget"]
    _NODES.setdefault(c, {})[path] = found


def parse_llm_poet(node: CommentedMap, data: dict[str, Any], path: str, c: Collector) -> None:
    """Replace the raw ``perceive``, ``enforce`` and ``efficiency`` of an llm step's mapping with their IR."""
    data["perceive"] = _rules(node.get("perceive"), node, "perceive", f"{path}.perceive", c)
    data["enforce"] = _rules(node.get("enforce"), node, "enforce", f"{path}.enforce", c)
    data["efficiency"] = parse_efficiency(node.get("efficiency"), node, f"{path}.efficiency", c)
    _remember(node, path, c)


def parse_workflow_efficiency(node: Any, doc: Any, c: Collector) -> tuple[str | None, BudgetIR | None]:
    """The top-level ``efficiency``: ``naive``/``optimised``, or ``{mode, budget}``."""
    if node is None:
        return None, None
    if isinstance(node, str):
        return _mode(node, doc, "efficiency", "efficiency", c), None
    if not isinstance(node, CommentedMap):
        c.add(doc, "efficiency", "efficiency", "a mode or a mapping", "efficiency: naive")
        return None, None
    c.unknown_keys(node, WORKFLOW_KEYS, "efficiency.")
    mode = _mode(node.get("mode"), node, "mode", "efficiency.mode", c)
    budget = _section("budget", node["budget"], node, "efficiency.budget", c) if "budget" in node else None
    return mode, budget


def _resolve(path: str | None, base_dir: Path | None) -> str | None:
    if path is None or base_dir is None or Path(path).is_absolute():
        return path
    return str((base_dir / path).resolve())


def _with_workflow(
    step: LLMStepIR, mode: str | None, budget: BudgetIR | None, base_dir: Path | None
) -> LLMStepIR:
    eff = step.efficiency
    risk = eff.risk.model_copy(
        update={
            "novelty": tuple(
                n.model_copy(update={"baseline": _resolve(n.baseline, base_dir)}) for n in eff.risk.novelty
            )
        }
    )
    bypass = eff.bypass.model_copy(update={"calibration": _resolve(eff.bypass.calibration, base_dir)})
    update: dict[str, Any] = {"risk": risk, "bypass": bypass, "workflow_budget": budget}
    if eff.mode is None and mode is not None:
        update["mode"] = mode
    return step.model_copy(update={"efficiency": eff.model_copy(update=update)})


def apply_workflow_efficiency(
    steps: list[StepIR], mode: str | None, budget: BudgetIR | None, base_dir: Path | None
) -> list[StepIR]:
    """Every llm step (in branches too) gets the workflow's mode (unless it sets its own) and budget,
    and its file paths resolved against the spec's folder."""
    out: list[StepIR] = []
    for step in steps:
        if isinstance(step, LLMStepIR):
            out.append(_with_workflow(step, mode, budget, base_dir))
        elif isinstance(step, RouteStepIR):
            branches = tuple(
                b.model_copy(
                    update={"steps": tuple(apply_workflow_efficiency(list(b.steps), mode, budget, base_dir))}
                )
                for b in step.branches
            )
            out.append(step.model_copy(update={"branches": branches}))
        else:
            out.append(step)
    return out


def llm_rule_reads(step: LLMStepIR) -> list[tuple[str, str, bool]]:
    """(expression, where in the step, whether it may read the output) of every CEL the step declares."""
    out = [(r.expr, f"llm.perceive.{r.id}", False) for r in step.perceive]
    out += [(r.expr, f"llm.enforce.{r.id}", True) for r in step.enforce]
    risk = step.efficiency.risk
    out += [(e, f"llm.efficiency.risk.high[{i}]", True) for i, e in enumerate(risk.high)]
    out += [(e, f"llm.efficiency.risk.medium[{i}]", True) for i, e in enumerate(risk.medium)]
    out += [
        (k.when, f"llm.efficiency.known_answers[{i}].when", False)
        for i, k in enumerate(step.efficiency.known_answers)
    ]
    out += [
        (n.field, f"llm.efficiency.risk.novelty.{n.field}", True) for n in risk.novelty
    ]  # a name is CEL too
    return out


CheckReads = Callable[[str, Any, Collector, Any, str], None]  # spec.py's _check_reads


def check_llm_step(
    step: LLMStepIR, fields: Mapping[str, Any], c: Collector, node: Any, path: str, check_reads: CheckReads
) -> None:
    """Every CEL of the step reads fields it has (the output too, after the call); every name its
    efficiency settings give is an output field. ``check_reads`` is the spec's own read check."""
    nodes = _NODES.get(c, {}).get(f"{path}.llm", {})
    answered = {**fields, **{f.name: f for f in step.output}}
    for expr, where, reads_output in llm_rule_reads(step):
        check_reads(expr, answered if reads_output else fields, c, nodes.get(where, node), f"{path}.{where}")
    outputs = {f.name for f in step.output}
    eff = step.efficiency
    at = nodes.get("llm.efficiency", node)
    named = [("decision_fields", n) for n in eff.decision_fields]
    named += [("confidence_field", eff.confidence_field)] if eff.confidence_field else []
    for key, name in named:
        if name not in outputs:
            c.add(
                at,
                key,
                f"{path}.llm.efficiency",
                f"'{name}' is not an output field of the step",
                suggest(name, outputs),
            )
    for i, known in enumerate(eff.known_answers):
        for name in known.output:
            if name not in outputs:
                c.add(
                    nodes.get(f"llm.efficiency.known_answers[{i}].when", at),
                    None,
                    f"{path}.llm.efficiency.known_answers[{i}].output.{name}",
                    f"'{name}' is not an output field of the step",
                    suggest(name, outputs),
                )
    if eff.budget is not None:
        for name in eff.budget.fallback or {}:
            if name not in outputs:
                c.add(
                    nodes.get("llm.efficiency.budget", at),
                    None,
                    f"{path}.llm.efficiency.budget.fallback.{name}",
                    f"'{name}' is not an output field of the step",
                    suggest(name, outputs),
                )


def note_fallback_unset(step: LLMStepIR, c: Collector, path: str) -> None:
    """Remember the answer fields a budget fallback leaves unset (output fields it does not name are null,
    exposed facts are not looked up): a later rule reading one fails on every event the budget refuses."""
    fallback = step.efficiency.budget.fallback if step.efficiency.budget is not None else None
    if fallback is None:
        return
    sets = tuple(sorted(fallback))
    for f in step.output:
        if f.name not in fallback:
            c.fallback_unset[f.name] = (path, sets)
    for f in knowledge_fields(step):  # a fallback sets output fields only: a fact's rule needs the guard
        c.fallback_unset[f.name] = (path, ())


def check_fallback_read(var: str, expr: str, c: Collector, node: Any, path: str) -> None:
    """A read of a field an earlier budget fallback leaves unset, unless the rule tests it for null."""
    if var not in c.fallback_unset or re.search(rf"\b{re.escape(var)}\s*[!=]=\s*null\b", expr):
        return
    step_path, sets = c.fallback_unset[var]
    guard = f"guard the rule: '{var} != null && ...' (docs/efficiency.md#budgets)"
    what = f"it sets only {', '.join(sets)}" if sets else "a fact of the step's knowledge, not looked up"
    c.add(
        node,
        None,
        path,
        f"reads '{var}', which the budget fallback of {step_path} leaves null ({what}): the rule fails "
        "on every event the budget refuses",
        f"set {var} in {step_path}.llm.efficiency.budget.fallback, or {guard}" if sets else guard,
    )


def llm_steps_of(steps: tuple[StepIR, ...]) -> list[LLMStepIR]:
    """Every llm step of a workflow, those in route branches too, in order."""
    found: list[LLMStepIR] = []
    for step in steps:
        if isinstance(step, LLMStepIR):
            found.append(step)
        elif isinstance(step, RouteStepIR):
            for branch in step.branches:
                found.extend(llm_steps_of(branch.steps))
    return found
