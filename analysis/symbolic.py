"""CEL trees of the parsed subset as z3 terms: a value, whether it is null, whether it evaluates.

The encoding follows what the CEL library does (probed, see analysis.cel_types), with three
approximations, each chosen so that a "never" answer stays true:
- doubles are reals: no rounding, no infinity or NaN (x / 0.0 is any value, not an error);
- `size` counts characters, CEL counts UTF-8 bytes (the same on ASCII text);
- `upper`, `lower`, `trim` are functions the solver knows nothing about (any result, the same result
  for the same text). Over-approximating like this keeps unsatisfiable answers sound; when an example
  event is wanted, the `under` mode instead fixes each call to return its argument and restricts that
  argument to text the call leaves unchanged, so a model is an event that exists.
The conversions are exact between numbers (`double(n)` the same value up to 2**53 and an unknown double
beyond, where the library rounds; `int(d)` truncated toward zero and an error outside 64 bits, as the
library does) and for `string(n)` of an int; `int` or `double` of text and `string` of a double are
opaque values of the kind (anything, error included).
An expression outside the subset (or mixing types, which the type check reports) becomes an opaque value
of its expected kind: anything, error included. Every query is thus about a superset of real behaviour,
and each example the solver gives is run through the real CEL library before it is shown (analysis.trace).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import count
from typing import Any

import z3

from dana_workflows.analysis.cel_types import (
    BOOL,
    CONVERSIONS,
    DOUBLE,
    INT,
    NULL,
    NUMERIC,
    SPEC_KINDS,
    STRING,
)
from dana_workflows.workflow.cel_parse import INT64_MAX, INT64_MIN, Node

_SORTS = {INT: z3.IntSort, DOUBLE: z3.RealSort, STRING: z3.StringSort, BOOL: z3.BoolSort}
_ORDER = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_UNCHANGED = {  # text each call leaves as it is (printable ASCII), for the `under` mode
    "upper": z3.Union(z3.Range(" ", "`"), z3.Range("{", "~")),
    "lower": z3.Union(z3.Range(" ", "@"), z3.Range("[", "~")),
}
PRINTABLE = z3.Star(z3.Range(" ", "~"))
_NO_ASCII_LOWER = z3.Complement(
    z3.Concat(z3.Full(z3.ReSort(z3.StringSort())), z3.Range("a", "z"), z3.Full(z3.ReSort(z3.StringSort())))
)
_NO_ASCII_UPPER = z3.Complement(
    z3.Concat(z3.Full(z3.ReSort(z3.StringSort())), z3.Range("A", "Z"), z3.Full(z3.ReSort(z3.StringSort())))
)
_RESULT_FACTS = {  # upper() leaves no a-z, lower() no A-Z, trim() no space at either end
    "upper": lambda r: z3.InRe(r, _NO_ASCII_LOWER),
    "lower": lambda r: z3.InRe(r, _NO_ASCII_UPPER),
    "trim": lambda r: z3.And(
        z3.Not(z3.PrefixOf(z3.StringVal(" "), r)), z3.Not(z3.SuffixOf(z3.StringVal(" "), r))
    ),
}


class Unsupported(Exception):
    """The tree uses something this encoding does not model; the caller makes the value opaque."""


@dataclass(frozen=True, slots=True)
class Sym:
    kind: str
    value: Any  # a z3 term of the kind's sort (a placeholder for NULL)
    null: Any  # z3 Bool: the value is null
    ok: Any  # z3 Bool: evaluating it raises no error

    @property
    def true(self) -> Any:
        """Evaluates, without error, to the boolean true (what a rule, route or constraint needs)."""
        if self.kind != BOOL:
            return z3.BoolVal(False)
        return z3.And(self.ok, z3.Not(self.null), self.value)


def literal(value: object) -> Sym:
    f = z3.BoolVal(False)
    if value is None:
        return Sym(NULL, z3.BoolVal(False), z3.BoolVal(True), z3.BoolVal(True))
    if isinstance(value, bool):
        return Sym(BOOL, z3.BoolVal(value), f, z3.BoolVal(True))
    if isinstance(value, int):
        return Sym(INT, z3.IntVal(value), f, z3.BoolVal(True))
    if isinstance(value, float):
        return Sym(DOUBLE, z3.RealVal(Fraction(value)), f, z3.BoolVal(True))
    return Sym(STRING, z3.StringVal(str(value)), f, z3.BoolVal(True))


_fresh = count()


def opaque(kind: str, hint: str) -> Sym:
    """A value the solver may choose freely: anything of the kind, null, or an error."""
    n = next(_fresh)
    sort = _SORTS.get(kind, z3.BoolSort)()
    return Sym(
        kind if kind in _SORTS else BOOL,
        z3.Const(f"{hint}#{n}", sort),
        z3.Bool(f"{hint}#{n}?null"),
        z3.Bool(f"{hint}#{n}?ok"),
    )


def field_symbol(name: str, spec_type: str, optional: bool) -> Sym:
    kind = SPEC_KINDS[spec_type]
    null = z3.Bool(f"{name}?null") if optional else z3.BoolVal(False)
    return Sym(kind, z3.Const(name, _SORTS[kind]()), null, z3.BoolVal(True))


class Encoder:
    def __init__(self, env: dict[str, Sym], under: bool, functions: dict[str, Any]) -> None:
        self.env = env
        self.under = under
        self.functions = functions  # one uninterpreted function per call name, shared across a workflow
        self.side: list[Any] = []  # `under` mode: what the fixed-point reading of the calls assumes

    def node(self, node: Node) -> Sym:
        """The tree's symbol; Unsupported where the encoding stops (the caller makes it opaque)."""
        tag = node[0]
        if tag == "lit":
            return literal(node[1])
        if tag == "var":
            if node[1] not in self.env:
                raise Unsupported
            return self.env[node[1]]
        if tag == "call":
            return self._call(node[1], self.node(node[2]))
        if tag == "not":
            a = self._boolean(self.node(node[1]))
            return Sym(BOOL, z3.Not(a.value), z3.BoolVal(False), a.ok)
        if tag == "neg":
            a = self.node(node[1])
            if a.kind not in NUMERIC:
                raise Unsupported
            return self._ranged(Sym(a.kind, -a.value, z3.BoolVal(False), z3.And(a.ok, z3.Not(a.null))))
        if tag == "op":
            return self._operator(node[1], self.node(node[2]), self.node(node[3]))
        if tag == "in":
            return self._membership(self.node(node[1]), node[2])
        if tag in ("and", "or"):
            return self._logical(tag == "or", self.node(node[1]), self.node(node[2]))
        return self._conditional(self.node(node[1]), self.node(node[2]), self.node(node[3]))

    def _boolean(self, a: Sym) -> Sym:
        """A boolean operand: a null or a value of another kind is an error (No such overload)."""
        if a.kind != BOOL:
            raise Unsupported
        return Sym(BOOL, a.value, z3.BoolVal(False), z3.And(a.ok, z3.Not(a.null)))

    def _function(self, name: str, arity: int = 1) -> Any:
        if name not in self.functions:
            self.functions[name] = z3.Function(name, *([z3.StringSort()] * (arity + 1)))
        return self.functions[name]

    def _call(self, name: str, a: Sym) -> Sym:
        if name in CONVERSIONS:
            return convert(a, CONVERSIONS[name])
        if a.kind == NULL and name != "size":
            return a
        if a.kind != STRING:
            raise Unsupported
        if name == "size":
            return Sym(INT, z3.Length(a.value), z3.BoolVal(False), z3.And(a.ok, z3.Not(a.null)))
        if not self.under:  # what holds of every result (Python's str methods), kept sound
            result = self._function(name)(a.value)
            self.side.append(_RESULT_FACTS[name](result))
            return Sym(STRING, result, a.null, a.ok)
            keep = _UNCHANGED.get(name)
            if keep is not None:
                self.side.append(z3.InRe(a.value, z3.Star(keep)))
            else:  # trim: no space at either end
                self.side.append(z3.Not(z3.PrefixOf(z3.StringVal(" "), a.value)))
                self.side.append(z3.Not(z3.SuffixOf(z3.StringVal(" "), a.value)))
        return a

    def _ranged(self, s: Sym) -> Sym:
        """Int results outside 64 bits are an error in CEL (overflow)."""
        if s.kind != INT:
            return s
        return Sym(s.kind, s.value, s.null, z3.And(s.ok, s.value >= INT64_MIN, s.value <= INT64_MAX))

    def _operator(self, symbol: str, a: Sym, b: Sym) -> Sym:
        if symbol in ("==", "!="):
            eq = self._equal(a, b)
            return Sym(BOOL, eq if symbol == "==" else z3.Not(eq), z3.BoolVal(False), z3.And(a.ok, b.ok))
        both = z3.And(a.ok, b.ok, z3.Not(a.null), z3.Not(b.null))
        if symbol in _ORDER:
            if a.kind in NUMERIC and b.kind in NUMERIC:
                x, y = _common(a, b)
            elif a.kind == b.kind == STRING:
                x, y = a.value, b.value
            elif a.kind == b.kind == BOOL:  # false < true
                x, y = z3.If(a.value, 1, 0), z3.If(b.value, 1, 0)
            else:
                raise Unsupported
            return Sym(BOOL, _ORDER[symbol](x, y), z3.BoolVal(False), both)
        if a.kind != b.kind:
            raise Unsupported
        if a.kind == STRING and symbol == "+":
            return Sym(STRING, z3.Concat(a.value, b.value), z3.BoolVal(False), both)
        if a.kind not in NUMERIC:
            raise Unsupported
        x, y = a.value, b.value
        if symbol == "+":
            value = x + y
        elif symbol == "-":
            value = x - y
        elif symbol == "*":
            value = x * y
        elif a.kind == INT:  # CEL's int division truncates toward zero; by zero it is an error
            return self._ranged(Sym(INT, _truncated_division(x, y), z3.BoolVal(False), z3.And(both, y != 0)))
        else:
            value = x / y
        return self._ranged(Sym(a.kind, value, z3.BoolVal(False), both))

    def _equal(self, a: Sym, b: Sym) -> Any:
        if a.kind == NULL or b.kind == NULL:
            other = b if a.kind == NULL else a
            return other.null
        if a.kind in NUMERIC and b.kind in NUMERIC:
            x, y = _common(a, b)
        elif a.kind == b.kind:
            x, y = a.value, b.value
        else:
            return z3.And(a.null, b.null)  # values of two kinds are never equal
        return z3.If(z3.Or(a.null, b.null), z3.And(a.null, b.null), x == y)

    def _membership(self, a: Sym, values: tuple[Any, ...]) -> Sym:
        options = [self._equal(a, literal(v)) for v in values]
        return Sym(BOOL, z3.Or(options) if options else z3.BoolVal(False), z3.BoolVal(False), a.ok)

    def _logical(self, is_or: bool, a: Sym, b: Sym) -> Sym:
        # CEL's && and || are commutative over errors: a false (true) side decides even if the other fails
        a, b = self._boolean(a), self._boolean(b)
        decides = z3.Or(z3.And(a.ok, a.value == is_or), z3.And(b.ok, b.value == is_or))
        ok = z3.Or(decides, z3.And(a.ok, b.ok))
        value = decides if is_or else z3.Not(decides)
        return Sym(BOOL, value, z3.BoolVal(False), ok)

    def _conditional(self, c: Sym, a: Sym, b: Sym) -> Sym:
        c = self._boolean(c)
        if a.kind == NULL and b.kind != NULL:
            a = Sym(b.kind, b.value, a.null, a.ok)
        elif b.kind == NULL and a.kind != NULL:
            b = Sym(a.kind, a.value, b.null, b.ok)
        if a.kind != b.kind:
            raise Unsupported
        return Sym(
            a.kind,
            z3.If(c.value, a.value, b.value),
            z3.If(c.value, a.null, b.null),
            z3.And(c.ok, z3.If(c.value, a.ok, b.ok)),
        )


def _common(a: Sym, b: Sym) -> tuple[Any, Any]:
    if a.kind == b.kind:
        return a.value, b.value
    x = as_double(a.value) if a.kind == INT else a.value
    y = as_double(b.value) if b.kind == INT else b.value
    return x, y


# An int beyond 2**53 becomes the nearest double in the library (double(2**53 + 1) is 2**53): the solver
# is not told which, only that the same int gives the same double, so no claim rests on an exact value.
_EXACT_DOUBLE = 2**53
_ROUNDED = z3.Function("int_as_double", z3.IntSort(), z3.RealSort())


def as_double(v: Any) -> Any:
    """An int read as a double (`double(n)`, an int compared with a double, a cast): the same number up
    to 2**53 either way, an unknown one beyond."""
    return z3.If(z3.And(v >= -_EXACT_DOUBLE, v <= _EXACT_DOUBLE), z3.ToReal(v), _ROUNDED(v))


def _truncated_division(x: Any, y: Any) -> Any:
    """z3's integer division is Euclidean; CEL's truncates toward zero."""

    def positive_divisor(n: Any, d: Any) -> Any:
        return z3.If(n >= 0, n / d, -((-n) / d))

    return z3.If(y > 0, positive_divisor(x, y), -positive_divisor(x, -y))


def convert(a: Sym, target: str) -> Sym:
    """`int(a)`, `double(a)` or `string(a)` (CEL's conversions): null or a boolean has no overload (the
    type check says so); an error or null argument is an error."""
    ok = z3.And(a.ok, z3.Not(a.null))
    if a.kind == target:
        return Sym(target, a.value, z3.BoolVal(False), ok)
    if target == DOUBLE and a.kind == INT:
        return Sym(DOUBLE, as_double(a.value), z3.BoolVal(False), ok)
    if target == INT and a.kind == DOUBLE:  # the library refuses -2**63 itself too: strictly inside
        v = a.value
        return Sym(INT, _truncated(v), z3.BoolVal(False), z3.And(ok, v > INT64_MIN, v < INT64_MAX + 1))
    if target == STRING and a.kind == INT:
        v = a.value
        text = z3.If(v >= 0, z3.IntToStr(v), z3.Concat(z3.StringVal("-"), z3.IntToStr(-v)))
        return Sym(STRING, text, z3.BoolVal(False), ok)
    if a.kind in (BOOL, NULL):
        raise Unsupported
    return opaque(target, f"{target}()")  # text parsed as a number, a double's digits: not modelled


def _truncated(v: Any) -> Any:
    """A real truncated toward zero, as int() of a double does in CEL and in Python."""
    return z3.If(v >= 0, z3.ToInt(v), -z3.ToInt(-v))


def cast(s: Sym, spec_type: str) -> Sym:
    """The value a transform stores for a field of `spec_type` (processors.transform casts at the edge).

    A null result fails the cast (float(None), int(None)); a kind the cast cannot model is opaque.
    """
    target = SPEC_KINDS[spec_type]
    ok = z3.And(s.ok, z3.Not(s.null))
    if s.kind == target:
        return Sym(target, s.value, z3.BoolVal(False), ok)
    if target == DOUBLE and s.kind == INT:
        return Sym(DOUBLE, as_double(s.value), z3.BoolVal(False), ok)
    if target == INT and s.kind == DOUBLE:  # int() truncates toward zero
        return Sym(INT, _truncated(s.value), z3.BoolVal(False), ok)
    return opaque(target, "cast")
