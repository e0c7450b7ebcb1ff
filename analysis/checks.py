"""The solver's questions about a workflow, and the findings they give.

Each question is asked of two encodings (analysis.symbolic): the over-approximation decides every
"never" (unsatisfiable there means impossible for real events), the under-approximation gives example
events, and every example is run through the real CEL library (analysis.trace) before it is shown.
A finding that rests on an example (an overlap, a value out of range) is only reported with one that
ran as claimed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from dana_workflows.analysis.findings import Finding
from dana_workflows.analysis.paths import INT32, State, Walker, inputs, walk
from dana_workflows.analysis.paths import Observer as PathObserver
from dana_workflows.analysis.symbolic import PRINTABLE, Sym
from dana_workflows.analysis.trace import Failed, Trace, trace
from dana_workflows.workflow.ir import DeriveIR, FieldIR, RouteStepIR, WorkflowIR

SOLVER_TIMEOUT_MS = 2000
EXAMPLE_TEXT_LENGTH = 12  # example strings are kept short and printable


class SolverGaveUp(Exception):
    """z3 answered `unknown` (a time limit, or non-linear arithmetic it could not settle)."""


@dataclass(slots=True)
class Recorder:
    """Everything one walk (one encoding) saw, by site key."""

    rules: dict[str, list[tuple[State, Sym, bool]]] = field(default_factory=dict)
    routes: dict[str, tuple[RouteStepIR, list[tuple[State, list[Sym]]]]] = field(default_factory=dict)
    sets: dict[str, tuple[DeriveIR, list[tuple[State, Sym]]]] = field(default_factory=dict)
    finals: list[State] = field(default_factory=list)

    def observer(self) -> PathObserver:
        return PathObserver(
            on_rules=lambda key, seen: self.rules.setdefault(key, []).extend(seen),
            on_route=lambda key, step, conds: self.routes.__setitem__(
                key, (step, self.routes.get(key, (step, []))[1] + conds)
            ),
            on_set=lambda key, d, seen: self.sets.__setitem__(
                key, (d, self.sets.get(key, (d, []))[1] + seen)
            ),
            on_final=self.finals.extend,
        )


Query = Callable[[Recorder], Any]  # a z3 formula over one encoding's symbols


@dataclass(slots=True)
class Checker:
    ir: WorkflowIR
    over: Recorder
    under: Recorder
    over_walker: Walker
    under_walker: Walker
    findings: list[Finding] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    answers: dict[int, tuple[Any, bool]] = field(default_factory=dict)  # formula id -> (formula, possible)

    # -- the solver -------------------------------------------------------------------------------
    def possible(self, query: Query) -> bool:
        """False only when no real event can satisfy the query (over-approximation unsatisfiable)."""
        formula = query(self.over)
        known = self.answers.get(formula.get_id())  # z3 shares equal terms: the same question, asked again
        if known is not None and known[0].eq(formula):
            return bool(known[1])
        solver = z3.Solver()
        solver.set("timeout", SOLVER_TIMEOUT_MS)
        solver.add(formula, *self.over_walker.side)
        answer = solver.check()
        if answer == z3.unknown:
            raise SolverGaveUp
        result = bool(answer == z3.sat)
        self.answers[formula.get_id()] = (formula, result)  # the term is kept, so its id is never reused
        return result

    def example(self, query: Query, confirm: Callable[[Trace], bool]) -> dict[str, Any] | None:
        """An input event satisfying the query that, run with the CEL library, does what `confirm` says."""
        solver = z3.Solver()
        solver.set("timeout", SOLVER_TIMEOUT_MS)
        solver.add(query(self.under), *self.under_walker.side, *self._readable())
        for _ in range(3):  # a model the approximation got wrong is excluded and another one asked for
            if solver.check() != z3.sat:
                return None
            model = solver.model()
            event = self._event(model)
            if confirm(trace(self.ir, event)):
                return event
            solver.add(z3.Or([s.value != model.eval(s.value, True) for s in self._inputs().values()]))
        return None

    def _inputs(self) -> dict[str, Sym]:
        return inputs(self.ir)[0]

    def _readable(self) -> Iterator[Any]:
        for sym in self._inputs().values():
            if sym.value.sort() == z3.StringSort():
                yield z3.InRe(sym.value, PRINTABLE)
                yield z3.Length(sym.value) <= EXAMPLE_TEXT_LENGTH

    def _event(self, model: z3.ModelRef) -> dict[str, Any]:
        event: dict[str, Any] = {}
        for f in self.ir.input:
            sym = self._inputs()[f.name]
            if z3.is_true(model.eval(sym.null, True)):
                event[f.name] = None
                continue
            value = model.eval(sym.value, True)
            event[f.name] = _python(value)
        return event

    # -- the questions ----------------------------------------------------------------------------
    def run(self) -> None:
        for path in self.over.routes:
            self._guard(path, self.route, path)
        for key in self.over.rules:
            self._guard(key, self.rule, key)
        for key in self.over.sets:
            self._guard(key, self.transform, key)
        for i in range(len(self.ir.objective.constraints)):
            self._guard(f"objective.constraints[{i}].rule", self.constraint, i)

    def _guard(self, key: str, ask: Callable[[Any], None], subject: Any) -> None:
        try:
            ask(subject)
        except SolverGaveUp:
            self.undecided.append(key)

    def route(self, path: str) -> None:
        step, _ = self.over.routes[path]
        names = [b.name for b in step.branches]

        def reach(rec: Recorder) -> Any:
            return z3.Or([z3.And(*s.path) for s, _ in rec.routes[path][1]])

        if not self.possible(reach):
            return  # nothing reaches the route: the finding that says why is elsewhere
        never = {i for i in range(len(names)) if self.never_taken(path, names, i, reach)}
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if i not in never and j not in never:
                    self.overlap(path, names, i, j)

    def never_taken(self, path: str, names: list[str], i: int, reach: Query) -> bool:
        """Whether branch i can never be taken (and the finding that says why)."""
        name, key = names[i], f"{path}.route.{names[i]}"

        def taken(rec: Recorder) -> Any:
            return _taken(rec, path, i)

        def holds(rec: Recorder) -> Any:
            return _holds(rec, path, i)

        if self.possible(taken):
            return False
        if self.possible(holds):
            event = self.example(holds, lambda t: path in t.chosen and names.index(t.chosen[path]) < i)
            earlier = _chosen(self.ir, event, path)
            by = f"'{earlier}'" if earlier else "the branches before it"
            self.add(
                "never-taken",
                key,
                f"branch '{name}' is never taken: every event its condition admits is taken by {by} first",
                "reorder the branches, or narrow the earlier condition",
                event,
            )
            return True
        event = self.example(reach, lambda t: path in t.chosen or t.at == key)
        self.add(
            "never-taken",
            key,
            f"branch '{name}' is never taken: its condition cannot hold for any event reaching "
            "this route (given the checks before it)",
            "correct the condition, or remove the branch",
            event,
        )
        return True

    def overlap(self, path: str, names: list[str], i: int, j: int) -> None:
        both, only_i, only_j = (
            lambda rec: _region(rec, path, i, j, True, True),
            lambda rec: _region(rec, path, i, j, True, False),
            lambda rec: _region(rec, path, i, j, False, True),
        )
        if not (self.possible(both) and self.possible(only_i) and self.possible(only_j)):
            return  # disjoint, or one contains the other (a deliberate specific-before-general order)
        key_j = f"{path}.route.{names[j]}"
        event = self.example(both, lambda t: t.chosen.get(path) == names[i] and t.passed(key_j))
        if event is None or self.example(only_i, lambda t: t.chosen.get(path) == names[i]) is None:
            return
        if self.example(only_j, lambda t: t.chosen.get(path) == names[j]) is None:
            return
        self.add(
            "overlap",
            key_j,
            f"branches '{names[i]}' and '{names[j]}' overlap and neither contains the other: an event "
            f"meeting both goes to '{names[i]}' only because it is listed first",
            "make the conditions exclusive (add '&& !(...)' to one), or confirm the order is intended",
            event,
        )

    def rule(self, key: str) -> None:
        def reach(rec: Recorder) -> Any:
            return z3.Or([z3.And(*s.path) for s, _, _ in rec.rules[key]])

        def fails(rec: Recorder) -> Any:
            return z3.Or([z3.And(*s.path, z3.Not(sym.true)) for s, sym, _ in rec.rules[key]])

        def passes(rec: Recorder) -> Any:
            return z3.Or([z3.And(*s.path, sym.true) for s, sym, _ in rec.rules[key]])

        if key in self.over_walker.unmodelled:
            return
        can_fail = self.possible(fails)
        if can_fail and self.possible(passes):
            return  # the common case, in two questions
        if not self.possible(reach):
            return  # nothing reaches the rule: the finding that says why is elsewhere
        if not can_fail:
            event = self.example(reach, lambda t: t.passed(key))
            self.add(
                "never-fails",
                key,
                "this rule can never fail: every event reaching it already satisfies it",
                "remove it, or correct it to test what was meant",
                event,
            )
        elif not self.possible(passes):
            event = self.example(reach, lambda t: key in t.values and not t.passed(key))
            self.add(
                "never-passes",
                key,
                "this rule can never pass: no event reaching it satisfies it",
                "correct the rule; as written it rejects every event",
                event,
            )

    def constraint(self, index: int) -> None:
        key = f"objective.constraints[{index}].rule"
        expr = self.ir.objective.constraints[index].expr
        over = [(s, self.over_walker.symbol(expr, s.env, "bool", key)) for s in self.over.finals]
        under = [(s, self.under_walker.symbol(expr, s.env, "bool", key)) for s in self.under.finals]
        if key in self.over_walker.unmodelled:
            return
        encodings = {id(self.over): over, id(self.under): under}

        def group(rec: Recorder, label: str | None) -> list[tuple[State, Sym]]:
            return [(s, c) for s, c in encodings[id(rec)] if label is None or label in s.branches]

        def reach(label: str | None) -> Query:
            return lambda rec: z3.Or([z3.And(*s.path) for s, _ in group(rec, label)])

        def passes(label: str | None) -> Query:
            return lambda rec: z3.Or([z3.And(*s.path, c.true) for s, c in group(rec, label)])

        if not over or not self.possible(reach(None)):
            return
        if not self.possible(passes(None)):
            event = self.example(reach(None), lambda t: key in t.values and not t.passed(key))
            self.add(
                "never-passes",
                key,
                "this constraint can never pass: every decided event violates it",
                "correct the constraint",
                event,
            )
            return
        labels = dict.fromkeys(label for s, _ in over for label in s.branches)
        for label in labels:
            if self.possible(reach(label)) and not self.possible(passes(label)):
                route, branch = label.split("=", 1)
                event = self.example(reach(label), _violated_on(branch, key))
                self.add(
                    "contradicts-branch",
                    key,
                    f"every event that takes branch '{branch}' of '{route}' violates this constraint",
                    f"change the condition of '{branch}' so it implies the constraint, or the constraint",
                    event,
                )

    def transform(self, key: str) -> None:
        derive, _ = self.over.sets[key]
        low, high = declared_range(derive, self.ir.input)
        if (low is None and high is None) or key in self.over_walker.unmodelled:
            return

        def outside(rec: Recorder) -> Any:
            cases = []
            for s, sym in rec.sets[key][1]:
                bounds = []
                if low is not None:
                    bounds.append(_real(sym) < z3.RealVal(Fraction(low)))
                if high is not None:
                    bounds.append(_real(sym) > z3.RealVal(Fraction(high)))
                cases.append(z3.And(*s.path, sym.ok, z3.Or(bounds)))
            return z3.Or(cases)

        if not self.possible(outside):
            return

        def confirm(t: Trace) -> bool:
            value = t.values.get(key)
            if value is None or isinstance(value, Failed):
                return False
            return bool((low is not None and value < low) or (high is not None and value > high))

        event = self.example(outside, confirm)
        if event is None:
            return
        span = f"[{'' if low is None else low}, {'' if high is None else high}]"
        self.add(
            "out-of-range",
            key,
            f"'{derive.field}' can be set outside its declared range {span}",
            "bound the expression (or guard it with a rule before this step), or widen the declared range",
            event,
        )

    def add(self, code: str, key: str, message: str, fix: str, event: dict[str, Any] | None) -> None:
        if event is None and code in ("never-taken", "never-fails", "never-passes", "contradicts-branch"):
            message += " (no example event could be confirmed with the CEL library)"
        self.findings.append(Finding(code, key, message, fix, event))


def declared_range(derive: DeriveIR, fields: tuple[FieldIR, ...]) -> tuple[float | None, float | None]:
    """The bounds a derived value must keep: its own declaration, the field's, and an int's 32 bits."""
    declared = next((f for f in fields if f.name == derive.field), None)
    low, high = derive.minimum, derive.maximum
    if declared is not None:
        low = low if low is not None else declared.minimum
        high = high if high is not None else declared.maximum
    if derive.type == "int":
        low = INT32[0] if low is None else max(low, INT32[0])
        high = INT32[1] if high is None else min(high, INT32[1])
    return low, high


def _real(sym: Sym) -> Any:
    return z3.ToReal(sym.value) if sym.value.sort() == z3.IntSort() else sym.value


def _violated_on(branch: str, key: str) -> Callable[[Trace], bool]:
    return lambda t: branch in t.chosen.values() and not t.passed(key)


def _taken(rec: Recorder, path: str, i: int) -> Any:
    return z3.Or([z3.And(*s.path, *_passed_over(syms[:i]), syms[i].true) for s, syms in rec.routes[path][1]])


def _holds(rec: Recorder, path: str, i: int) -> Any:
    return z3.Or([z3.And(*s.path, syms[i].true) for s, syms in rec.routes[path][1]])


def _region(rec: Recorder, path: str, i: int, j: int, hold_i: bool, hold_j: bool) -> Any:
    cases = []
    for s, syms in rec.routes[path][1]:
        a = syms[i].true if hold_i else z3.And(syms[i].ok, z3.Not(syms[i].true))
        b = syms[j].true if hold_j else z3.And(syms[j].ok, z3.Not(syms[j].true))
        cases.append(z3.And(*s.path, *_passed_over(syms[:i]), a, b))
    return z3.Or(cases)


def _passed_over(syms: list[Sym]) -> list[Any]:
    """Earlier conditions that let the event go on: evaluated without error, not true."""
    return [z3.And(s.ok, z3.Not(s.true)) for s in syms]


def _chosen(ir: WorkflowIR, event: dict[str, Any] | None, path: str) -> str | None:
    return None if event is None else trace(ir, event).chosen.get(path)


def _python(value: Any) -> Any:
    if z3.is_int_value(value):
        return value.as_long()
    if z3.is_rational_value(value):
        fraction = value.as_fraction()
        return float(fraction)
    if z3.is_true(value) or z3.is_false(value):
        return z3.is_true(value)
    if z3.is_string_value(value):
        return value.as_string()
    return str(value)


def check(ir: WorkflowIR) -> Checker:
    """Walk the workflow in both encodings and ask every question."""
    over_walker, under_walker = Walker(under=False), Walker(under=True)
    over, under = Recorder(), Recorder()
    walk(ir, over_walker, over.observer())
    walk(ir, under_walker, under.observer())
    checker = Checker(ir, over, under, over_walker, under_walker)
    checker.run()
    return checker
