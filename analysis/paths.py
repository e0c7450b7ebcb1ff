"""Symbolic execution of a workflow: for every step, the conditions an event meets to reach it.

A state is one way through the workflow (a route multiplies them, one per branch): the payload's fields
as z3 symbols and the path condition (every transform computed, every reject rule passed, the route
branches chosen so far). The checks (analysis.checks) ask the solver questions about these states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import z3

from dana_workflows.analysis.cel_types import BOOL, INT, SPEC_KINDS, parse_analysed
from dana_workflows.analysis.symbolic import Encoder, Sym, Unsupported, cast, field_symbol, literal, opaque
from dana_workflows.workflow.ir import (
    DeriveIR,
    EnforceStepIR,
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_STATES = 256  # ways through one workflow: more is reported as not analysed


@dataclass(frozen=True, slots=True)
class State:
    env: dict[str, Sym]
    path: tuple[Any, ...]  # z3 Bools: what an event on this way has met
    branches: tuple[str, ...] = ()  # "route=branch" choices made on the way


@dataclass(slots=True)
class Observer:
    """What the walk hands to the checks, keyed by site (analysis.sites keys)."""

    on_rules: Callable[[str, list[tuple[State, Sym, bool]]], None]
    on_route: Callable[[str, RouteStepIR, list[tuple[State, list[Sym]]]], None]
    on_set: Callable[[str, DeriveIR, list[tuple[State, Sym]]], None]
    on_final: Callable[[list[State]], None]


@dataclass(slots=True)
class Walker:
    under: bool
    functions: dict[str, Any] = field(default_factory=dict)
    side: list[Any] = field(default_factory=list)  # `under` mode assumptions of every encoded call
    unmodelled: list[str] = field(default_factory=list)  # site keys whose expression was made opaque

    def symbol(self, expr: str, env: dict[str, Sym], expected: str, key: str) -> Sym:
        tree = parse_analysed(expr)
        enc = Encoder(env, self.under, self.functions)
        try:
            if tree is None:
                raise Unsupported
            sym = enc.node(tree)
        except Unsupported:
            if key not in self.unmodelled:
                self.unmodelled.append(key)
            return opaque(expected, key)
        self.side.extend(enc.side)
        return sym


def inputs(ir: WorkflowIR) -> tuple[dict[str, Sym], list[Any]]:
    """The input fields as symbols, and what ingest guarantees about them (type ranges, declared ranges)."""
    env: dict[str, Sym] = {}
    domain: list[Any] = []
    for f in ir.input:
        sym = env[f.name] = field_symbol(f.name, f.type, f.optional)
        domain.extend(_range(f, sym))
    return env, domain


def _range(f: FieldIR, sym: Sym) -> list[Any]:
    present: list[Any] = []
    if sym.kind == INT:
        low, high = INT32 if f.type == "int" else INT64
        present += [sym.value >= low, sym.value <= high]
    minimum, maximum = f.minimum, f.maximum
    if minimum is not None:
        present.append(sym.value >= minimum)
    if maximum is not None:
        present.append(sym.value <= maximum)
    return [z3.Implies(z3.Not(sym.null), c) for c in present]


def walk(ir: WorkflowIR, walker: Walker, observer: Observer) -> None:
    env, domain = inputs(ir)
    finals = _steps(ir.steps, [State(env, tuple(domain))], "steps", walker, observer)
    observer.on_final(finals)


def _steps(
    steps: tuple[StepIR, ...], states: list[State], prefix: str, walker: Walker, observer: Observer
) -> list[State]:
    for i, step in enumerate(steps):
        path = f"{prefix}[{i}].{step.name}"
        if isinstance(step, TransformStepIR):
            states = [_transform(step, s, path, walker, observer) for s in states]
        elif isinstance(step, ValidateStepIR | EnforceStepIR):
            states = _validate(step, states, path, walker, observer)
        elif isinstance(step, RouteStepIR):
            states = _route(step, states, path, walker, observer)
        elif isinstance(step, LLMStepIR):
            states = [_llm(step, s, path, walker, observer) for s in states]
        if len(states) > MAX_STATES:
            raise TooManyPaths(path)
    return states


class TooManyPaths(Exception):
    """The workflow has more ways through it than the analysis follows."""


def _transform(step: TransformStepIR, s: State, path: str, walker: Walker, observer: Observer) -> State:
    env = dict(s.env)
    computed: list[Any] = []
    for d in step.derive:
        key = f"{path}.transform.set.{d.field}"
        value = cast(walker.symbol(d.expr, s.env, SPEC_KINDS[d.type], key), d.type)
        observer.on_set(key, d, [(s, value)])
        env[d.field] = value
        computed.append(value.ok)
    for old, new in step.rename.items():
        if old in env:
            env[new] = env.pop(old)
    if step.function is not None:
        for f in step.function_outputs:
            env[f.name] = opaque(SPEC_KINDS[f.type], f"{path}.{f.name}")
    for name in step.drop:
        env.pop(name, None)
    return State(env, (*s.path, *computed), s.branches)


def _validate(
    step: ValidateStepIR | EnforceStepIR, states: list[State], path: str, walker: Walker, observer: Observer
) -> list[State]:
    out = []
    passes_by_state: list[list[Any]] = [[] for _ in states]
    for j, rule in enumerate(step.rules):
        key = f"{path}.validate[{j}].rule"
        seen = []
        for n, s in enumerate(states):
            sym = walker.symbol(rule.expr, s.env, BOOL, key)
            seen.append((s, sym, rule.severity == "reject"))
            if rule.severity == "reject":
                passes_by_state[n].append(sym.true)
        observer.on_rules(key, seen)
    for s, passes in zip(states, passes_by_state, strict=True):
        out.append(replace(s, path=(*s.path, *passes)))
    return out


def _route(
    step: RouteStepIR, states: list[State], path: str, walker: Walker, observer: Observer
) -> list[State]:
    out: list[State] = []
    conditions: list[tuple[State, list[Sym]]] = []
    for s in states:
        syms = [walker.symbol(b.when, s.env, BOOL, f"{path}.route.{b.name}") for b in step.branches]
        conditions.append((s, syms))
    observer.on_route(path, step, conditions)
    for s, syms in conditions:
        # an earlier condition that errors rejects the event; one that is not true lets it go on
        passed_over: list[Any] = []
        for branch, sym in zip(step.branches, syms, strict=True):
            taken = State(
                {**s.env, step.field: literal(branch.name)},
                (*s.path, *passed_over, sym.true),
                (*s.branches, f"{step.name}={branch.name}"),
            )
            passed_over.append(z3.And(sym.ok, z3.Not(sym.true)))
            after = _steps(branch.steps, [taken], f"{path}.route.{branch.name}.steps", walker, observer)
            if not branch.terminal:
                out.extend(after)
    return out


def _llm(step: LLMStepIR, s: State, path: str, walker: Walker, observer: Observer) -> State:
    env = dict(s.env)
    for f in step.output:  # the model's answer: anything of its type, or null
        answer = opaque(SPEC_KINDS[f.type], f"{path}.{f.name}")
        env[f.name] = Sym(answer.kind, answer.value, answer.null, z3.BoolVal(True))
    return State(env, s.path, s.branches)
