"""Simple CEL expressions as generated Python functions: the same answers as the CEL library, faster.

A call into the CEL library costs a few microseconds, more when the expression calls a Python
function (`upper`, `trim`), and a spec evaluates a dozen expressions per event. The functions here
answer only where CEL's answer is certain (same-typed operands, no overflow, no NaN ordering, ASCII
`size`); everywhere else — nulls into operators, mixed types, a missing variable — they raise
`Defer` and the caller asks the CEL library, so results, errors and error messages never differ.

Each expression becomes one Python function, written as source and compiled once (`native_source`): its
variables read once at the top, each operator's checks and operation written out inline as statements,
literals and their checks fixed when it is compiled (a comparison with a literal checks the literal's type
then, not on every event). Until session 13 the same rules were a tree of closures, one Python call per
node (`upper(trim(currency)) == 'EUR' ? amount * 1.1 : ...` was eight calls an evaluation). One frame an
expression instead: the claims example's nine expressions 4.4 -> 1.9 µs together (timeit, bound values), and
562.8k -> 545.4k instructions an event (-3.1%, callgrind; docs/performance.md, "Session 13: shared
processing").

The scope is read with `scope.get` (a variable that is missing is CEL's to report: the function defers
where it reads one); the scopes are the event's payload or the values a rule bound from it, both dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dana_workflows.workflow.cel_parse import INT64_MAX, INT64_MIN, Node, parse_subset, variables_of

Scope = Mapping[str, Any]
Native = Callable[[Scope], Any]


class Defer(Exception):
    """The fast path cannot vouch for CEL's answer on this event: ask the CEL library."""


_NONE = type(None)
_EQUALITY_TYPES = frozenset({str, int, float, bool, _NONE})
_ORDER = ("<", "<=", ">", ">=")
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}  # a < b is b > a
_STRING_METHODS = {"upper": "upper", "lower": "lower", "trim": "strip"}  # CEL name -> str method
_MISSING = object()  # a variable the scope does not hold


def compile_native(source: str, cel_variables: tuple[str, ...], *, bound: bool = False) -> Native | None:
    """A function for `source`, or None when it is outside the subset or reads other variables than CEL
    says it does (a guard against the two parsers ever disagreeing). bound: the function returns the pair
    (values bound, result), the values as `CompiledExpr.bindings` binds them, so a rule that records what it
    read gets both in one call (processors/rules.py)."""
    try:
        tree = _subset_tree(source, cel_variables)
        return None if tree is None else native_function(tree, cel_variables, source, bound=bound)
    except (SyntaxError, RecursionError):
        # deeper than Python nests (a block per right-nested `||`/`&&`/`?:` branch stops at 100 levels) or
        # recurses: CEL itself still evaluates it, so the expression simply runs on CEL alone
        return None


def _subset_tree(source: str, cel_variables: tuple[str, ...]) -> Node | None:
    """The parsed subset of `source`, or None when it is outside the subset or reads other variables than
    CEL says it does."""
    tree = parse_subset(source)
    return tree if tree is not None and variables_of(tree) == set(cel_variables) else None


def compile_natives(sources: Sequence[tuple[str, tuple[str, ...]]]) -> Native | None:
    """One function for several expressions on one scope (a transform step's derived fields): their
    results as a tuple, what they share computed once (the claims example's `currency` and `amount_usd`
    both begin with `upper(trim(currency))`). It defers where any one of them would, and the caller then
    evaluates each alone, so each field's answer and error stay its own expression's. None where one is
    outside the subset, as `compile_native`."""
    try:
        trees = []
        for source, cel_variables in sources:
            tree = _subset_tree(source, cel_variables)
            if tree is None:
                return None
            trees.append(tree)
        names = tuple(dict.fromkeys(name for _, cel_variables in sources for name in cel_variables))
        out = _Writer(names)
        _read_variables(out)
        results = [out.value(tree, 1) for tree in trees]  # in the fields' order, each at the top level
        out.line(1, f"return ({', '.join(results)},)")
        text = out.function_text()
        return _compiled(text, out.constants, " ; ".join(source for source, _ in sources))
    except (SyntaxError, RecursionError):  # as compile_native: CEL alone, each field by itself
        return None


def native_function(tree: Node, names: tuple[str, ...], label: str, *, bound: bool = False) -> Native:
    """The compiled function of `tree` (as `native_source` writes it); `label` names it in tracebacks."""
    return _compiled(*native_source(tree, names, bound=bound), label)


def _compiled(text: str, constants: dict[str, Any], label: str) -> Native:
    namespace: dict[str, Any] = {
        "Defer": Defer,
        "_MISSING": _MISSING,
        "_plain": _plain,
        "_EQUALITY_TYPES": _EQUALITY_TYPES,
        "_INT64_MIN": INT64_MIN,
        "_INT64_MAX": INT64_MAX,
        **constants,
    }
    exec(compile(text, f"<cel native: {label}>", "exec"), namespace)  # noqa: S102 - our own generated code
    native: Native = namespace["native"]
    return native


def native_source(tree: Node, names: tuple[str, ...], *, bound: bool = False) -> tuple[str, dict[str, Any]]:
    """The Python source of the function for `tree` reading `names`, and the constants it refers to
    (bound: it returns (values, result), see compile_native)."""
    out = _Writer(names)
    _read_variables(out)
    result = out.value(tree, 1)
    if not bound:
        out.line(1, f"return {result}")
        return out.function_text(), out.constants
    # the values present in the scope, in the variables' order (CompiledExpr.bindings): one dict display
    # where each is (a variable read outside any branch is, or the function deferred), else one store each
    display = "{" + ", ".join(f"{name!r}: {local}" for name, local in out.locals.items()) + "}"
    unsure = [local for name, local in out.locals.items() if name not in out.present]
    if unsure:
        out.line(1, f"if {' and '.join(f'{local} is not _MISSING' for local in unsure)}:")
        out.line(2, f"return {display}, {result}")
        out.line(1, "values = {}")
        for name, local in out.locals.items():
            if name in out.present:
                out.line(1, f"values[{name!r}] = {local}")
            else:
                out.line(1, f"if {local} is not _MISSING:")
                out.line(2, f"values[{name!r}] = {local}")
        out.line(1, f"return values, {result}")
    else:
        out.line(1, f"return {display}, {result}")
    return out.function_text(), out.constants


def _read_variables(out: _Writer) -> None:
    # CEL binds every variable before it evaluates, even one a `||` never reads: a value it cannot convert
    # (a lone surrogate) or converts its own way (ints past 64 bits become doubles; bytes, lists, maps)
    # fails or changes the whole expression. Only plain values go on (the guard below, for each variable).
    for name, local in out.locals.items():
        out.line(1, f"{local} = scope.get({name!r}, _MISSING)")
        out.line(1, f"kind = type({local})")
        # the common plain values checked inline, the rest by _plain; a missing one is read where used
        out.defer_if(
            1,
            f"not ((kind is str and {local}.isascii()) or kind is float or kind is bool "
            f"or {local} is None or {local} is _MISSING or _plain({local}))",
        )


class _Writer:
    """Writes the statements of one expression: `value` emits what computes a node and returns the Python
    expression (a local or a constant) that holds its value afterwards.

    A subexpression written twice in the source (`upper(trim(currency))` in each condition of the claims
    example's ternaries) is computed once where the first computation is sure to have run: in the same
    block or one that encloses it (`computed`, by the block path; a branch's values are not reused after
    it). The expressions are pure, so the value is the same and a deferral would have happened the first
    time. What is known when the source is written is not checked per event: a variable read outside any
    branch is present at the end (`present`), and a comparison's, `!`'s, `in`'s or `size`'s result has a
    known type (`kinds`), so a test of it against bool or int goes (docs/performance.md, "Session 17: the
    hop")."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.literal_kinds: dict[str, type] = {}  # constant -> its type, known when the source is written
        self.kinds: dict[str, type] = {}  # temp -> its type, known when the source is written
        self.checked: dict[
            str, tuple[tuple[int, ...], type]
        ] = {}  # value -> (block path, type it was checked as)
        self.locals = {name: f"v{i}" for i, name in enumerate(names)}
        self.present: set[str] = set()  # variables read (and found, or deferred) outside any branch
        self.computed: dict[Any, tuple[tuple[int, ...], str]] = {}  # node's key -> (block path, its value)
        self.path: tuple[int, ...] = ()  # the blocks the next statement is in (each branch its own number)
        self.count = 0
        self.blocks = 0

    def function_text(self) -> str:
        """The generated function's source, its statements as written."""
        return "def native(scope):\n" + "\n".join(self.lines) + "\n"

    def line(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def constant(self, value: Any) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        self.literal_kinds[name] = type(value)
        return name

    def temp(self, kind: type | None = None) -> str:
        self.count += 1
        name = f"t{self.count}"
        if kind is not None:
            self.kinds[name] = kind
        return name

    def kind_of(self, a: str) -> type | None:
        """The type `a` has here, where known: from its operation, or a check in this or an outer block."""
        known = self.kinds.get(a)
        if known is not None:
            return known
        seen = self.checked.get(a)
        return seen[1] if seen is not None and self.path[: len(seen[0])] == seen[0] else None

    def defer_unless_kind(self, at: int, a: str, kind: type, expected: str, extra: str = "") -> None:
        """Defer unless `a` is of `kind` (the constant `expected`) and not `extra`; the type check is left
        out where the type is known, and after it `a` is known to be of `kind` in this block."""
        if self.kind_of(a) is not kind:
            self.defer_if(at, f"type({a}) is not {expected}" + (f" or {extra}" if extra else ""))
            self.checked[a] = (self.path, kind)
        elif extra:
            self.defer_if(at, extra)

    def enter(self) -> tuple[int, ...]:
        """A branch's block begins: what is computed in it is not reused outside it. Returns the path to
        restore (`leave`)."""
        outer = self.path
        self.blocks += 1
        self.path = (*outer, self.blocks)
        return outer

    def leave(self, outer: tuple[int, ...]) -> None:
        self.path = outer

    def defer_if(self, at: int, condition: str) -> None:
        """`if condition: raise Defer`: the fast path cannot vouch for CEL's answer there."""
        self.line(at, f"if {condition}:")
        self.line(at + 1, "raise Defer")

    def otherwise_defer(self, at: int) -> None:
        self.line(at, "else:")
        self.line(at + 1, "raise Defer")

    def value(self, node: Node, at: int) -> str:
        if node[0] == "lit":
            return self.constant(node[1])
        key = _key(node)
        seen = self.computed.get(key)
        if seen is not None and self.path[: len(seen[0])] == seen[0]:  # computed here or in an outer block
            return seen[1]
        result = self.compute(node, at)
        self.computed[key] = (self.path, result)
        return result

    def compute(self, node: Node, at: int) -> str:
        kind = node[0]
        if kind == "var":
            local = self.locals[node[1]]
            self.defer_if(at, f"{local} is _MISSING")  # CEL reports the undeclared variable
            if not self.path:
                self.present.add(node[1])
            return local
        if kind == "call":
            return self.call(node[1], self.value(node[2], at), at)
        if kind == "not":
            a = self.value(node[1], at)
            t = self.temp(bool)
            self.defer_unless_kind(at, a, bool, "bool")
            self.line(at, f"{t} = not {a}")
            return t
        if kind == "neg":
            a = self.value(node[1], at)
            t = self.temp()
            self.defer_if(at, f"not (type({a}) is float or (type({a}) is int and {a} != _INT64_MIN))")
            self.line(at, f"{t} = -{a}")
            return t
        if kind == "op":
            return self.operator(node[1], node[2], node[3], at)
        if kind == "in":
            return self.membership(node[1], node[2], at)
        if kind in ("and", "or"):
            return self.logical(kind == "or", node[1], node[2], at)
        return self.conditional(node[1], node[2], node[3], at)

    def call(self, name: str, a: str, at: int) -> str:
        t = self.temp()
        if name == "size":
            self.defer_if(at, f"type({a}) is not str or not {a}.isascii()")  # CEL's size counts UTF-8 bytes
            self.line(at, f"{t} = len({a})")
            self.kinds[t] = int
            return t
        self.line(at, f"if type({a}) is str:")
        self.line(at + 1, f"{t} = {a}.{_STRING_METHODS[name]}()")
        self.line(at, f"elif {a} is None:  # cel_expr.EXTRA_FUNCTIONS map null to null")
        self.line(at + 1, f"{t} = None")
        self.otherwise_defer(at)
        return t

    def operator(self, symbol: str, left: Node, right: Node, at: int) -> str:
        if symbol in _ORDER or symbol in ("==", "!="):
            if right[0] == "lit" and left[0] != "lit":
                return self.against_literal(symbol, left, right[1], at, literal_first=False)
            if left[0] == "lit" and right[0] != "lit":
                return self.against_literal(symbol, right, left[1], at, literal_first=True)
        return self.general(symbol, self.value(left, at), self.value(right, at), at)

    def general(self, symbol: str, a: str, b: str, at: int) -> str:
        t = self.temp()
        if symbol in ("==", "!="):
            # mixed types: CEL has its own (numeric, heterogeneous) rules
            self.defer_if(at, f"type({a}) is not type({b}) or type({a}) not in _EQUALITY_TYPES")
            self.line(at, f"{t} = {a} == {b}" if symbol == "==" else f"{t} = not ({a} == {b})")
            self.kinds[t] = bool  # == of two values of one of those types
            return t
        if symbol in _ORDER:
            self.kinds[t] = bool  # an order of two ints, two doubles (not NaN) or two ASCII strings
            self.line(at, f"kind = type({a})")
            self.defer_if(
                at,
                f"not (kind is type({b}) and (kind is int "
                f"or (kind is float and {a} == {a} and {b} == {b})"  # CEL refuses to order NaN
                f" or (kind is str and {a}.isascii() and {b}.isascii())))",
            )
            self.line(at, f"{t} = {a} {symbol} {b}")
            return t
        # arithmetic: CEL does not mix int and double; its int division truncates and checks zero
        known = self.literal_kinds.get(b, self.literal_kinds.get(a))
        if known is not None:  # a literal side (`amount * 1.1`): its type is known now, one branch is written
            other = a if b in self.literal_kinds else b
            self.defer_if(at, f"type({other}) is not {self.constant(known)}")
            if known is float:
                if symbol == "/":
                    self.defer_if(at, f"{b} == 0.0")
                self.line(at, f"{t} = {a} {symbol} {b}")
                self.kinds[t] = float
            elif known is int and symbol != "/":
                self.line(at, f"{t} = {a} {symbol} {b}")
                self.defer_if(at, f"not (_INT64_MIN <= {t} <= _INT64_MAX)")
                self.kinds[t] = int
            elif known is str and symbol == "+":
                self.line(at, f"{t} = {a} + {b}")
                self.kinds[t] = str
            else:  # no operation of CEL's that this path answers
                self.line(at, "raise Defer")
            return t
        self.line(at, f"kind = type({a})")
        self.defer_if(at, f"kind is not type({b})")
        self.line(at, "if kind is float" + (f" and not ({b} == 0.0):" if symbol == "/" else ":"))
        self.line(at + 1, f"{t} = {a} {symbol} {b}")
        if symbol != "/":
            self.line(at, "elif kind is int:")
            self.line(at + 1, f"{t} = {a} {symbol} {b}")
            self.defer_if(at + 1, f"not (_INT64_MIN <= {t} <= _INT64_MAX)")
        if symbol == "+":
            self.line(at, "elif kind is str:")
            self.line(at + 1, f"{t} = {a} + {b}")
        self.otherwise_defer(at)
        return t

    def against_literal(
        self, symbol: str, operand: Node, literal: Any, at: int, *, literal_first: bool
    ) -> str:
        """A comparison of an expression with a literal (`amount > 0.0`, `route != 'auto_pay'`): what
        `general` does, with the literal's own checks made once, here, instead of on every event."""
        kind = type(literal)
        if symbol in ("==", "!="):
            if kind not in _EQUALITY_TYPES:
                return self.general(symbol, self.value(operand, at), self.constant(literal), at)
            a, k, expected = self.value(operand, at), self.constant(literal), self.constant(kind)
            t = self.temp(bool)
            self.defer_unless_kind(at, a, kind, expected)  # mixed types: CEL has its own rules
            self.line(at, f"{t} = {a} == {k}" if symbol == "==" else f"{t} = not ({a} == {k})")
            return t
        if not (kind is int or (kind is float and literal == literal) or (kind is str and literal.isascii())):
            # a literal CEL would not order: the general checks (which defer on it)
            return self.general(symbol, self.value(operand, at), self.constant(literal), at)
        # `0.0 < amount` is `amount > 0.0`: these literals and the values compared with them are ordered
        order = _MIRRORED[symbol] if literal_first else symbol
        a, k, expected = self.value(operand, at), self.constant(literal), self.constant(kind)
        t = self.temp(bool)
        extra = f"{a} != {a}" if kind is float else f"not {a}.isascii()" if kind is str else ""
        self.defer_unless_kind(at, a, kind, expected, extra)  # CEL refuses to order NaN
        self.line(at, f"{t} = {a} {order} {k}")
        return t

    def membership(self, item: Node, values: tuple[Any, ...], at: int) -> str:
        a = self.value(item, at)
        kinds = {type(v) for v in values}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind not in (str, int):  # mixed or other literals: CEL decides
            self.line(at, "raise Defer")
            return "None"
        members, expected = self.constant(frozenset(values)), self.constant(kind)
        t = self.temp(bool)
        self.defer_unless_kind(at, a, kind, expected)
        self.line(at, f"{t} = {a} in {members}")
        return t

    def logical(self, is_or: bool, left: Node, right: Node, at: int) -> str:
        # `true || …` is true and `false && …` is false, whatever the right side is; an error or non-bool
        # on either side: CEL's commutative error rules apply
        a = self.value(left, at)
        t = self.temp(bool)
        sure = self.kind_of(a) is bool  # a bool: no third case to defer
        self.line(at, f"if {'' if is_or else 'not '}{a}:" if sure else f"if {a} is {is_or}:")
        self.line(at + 1, f"{t} = {a}")
        self.line(at, "else:" if sure else f"elif {a} is {not is_or}:")
        outer = self.enter()
        b = self.value(right, at + 1)
        if self.kind_of(b) is not bool:
            self.defer_if(at + 1, f"type({b}) is not bool")
        self.leave(outer)
        self.line(at + 1, f"{t} = {b}")
        if not sure:
            self.otherwise_defer(at)
        return t

    def conditional(self, cond: Node, then: Node, otherwise: Node, at: int) -> str:
        c = self.value(cond, at)
        t = self.temp()
        sure = self.kind_of(c) is bool  # a bool: no third case to defer
        self.line(at, f"if {c}:" if sure else f"if {c} is True:")
        outer = self.enter()
        self.line(at + 1, f"{t} = {self.value(then, at + 1)}")
        self.leave(outer)
        self.line(at, "else:" if sure else f"elif {c} is False:")
        outer = self.enter()
        self.line(at + 1, f"{t} = {self.value(otherwise, at + 1)}")
        self.leave(outer)
        if not sure:
            self.otherwise_defer(at)
        return t


def _key(node: Node) -> Any:
    """A node as a key of `_Writer.computed`: equal for equal subexpressions, with each literal's type in
    it (the tuples alone take 1, 1.0 and true for one literal)."""
    if node[0] == "lit":
        return ("lit", type(node[1]), repr(node[1]))
    if node[0] == "in":
        return ("in", _key(node[1]), tuple((type(v), repr(v)) for v in node[2]))
    return tuple(_key(part) if isinstance(part, tuple) else part for part in node)


def _plain(value: Any) -> bool:
    """A value CEL binds as it is: a string it can encode, a double, a bool, null, an int within 64 bits."""
    kind: type = type(value)
    if kind is str:
        return value.isascii() or _is_utf8(value)
    return kind is float or kind is bool or value is None or (kind is int and INT64_MIN <= value <= INT64_MAX)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
