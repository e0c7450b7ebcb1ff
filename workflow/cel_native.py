"""Simple CEL expressions as Python closures: the same answers as the CEL library, several times faster.

A call into the CEL library costs a few microseconds, more when the expression calls a Python
function (`upper`, `trim`), and a spec evaluates a dozen expressions per event. The closures here
answer only where CEL's answer is certain (same-typed operands, no overflow, no NaN ordering, ASCII
`size`); everywhere else — nulls into operators, mixed types, a missing variable — they raise
`Defer` and the caller asks the CEL library, so results, errors and error messages never differ.

Two specialised forms, measured together at -7.4k of 742k instructions an event on the claims example
(docs/performance.md, "Session 10: shared processing"): a comparison with a literal side checks the literal
once, when it is compiled (`_against_literal`), and an expression that reads one variable is guarded without
a loop (`_guarded_one`). Two nested string calls (`upper(trim(currency))`, three an event on the claims
example) run as one closure (`_string_pair`): -2.4k of 678k. The one-name guard checks the common plain
values (ASCII text, double, bool, null) itself and calls `_plain` only for the rest: -3.0k of 574k
("Session 12: shared processing").
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from dana_workflows.workflow.cel_parse import INT64_MAX, INT64_MIN, Node, parse_subset, variables_of

Scope = Mapping[str, Any]
Native = Callable[[Scope], Any]


class Defer(Exception):
    """The fast path cannot vouch for CEL's answer on this event: ask the CEL library."""


_NONE = type(None)
_EQUALITY_TYPES = frozenset({str, int, float, bool, _NONE})
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}  # a < b is b > a
_STRING_CALLS: dict[str, Callable[[str], str]] = {"upper": str.upper, "lower": str.lower, "trim": str.strip}


def compile_native(source: str, cel_variables: tuple[str, ...]) -> Native | None:
    """A closure for `source`, or None when it is outside the subset or reads other variables than CEL
    says it does (a guard against the two parsers ever disagreeing)."""
    tree = parse_subset(source)
    if tree is None or variables_of(tree) != set(cel_variables):
        return None
    return _guarded(_build(tree), cel_variables)


def _build(node: Node) -> Native:
    kind = node[0]
    if kind == "lit":
        value = node[1]
        return lambda scope: value
    if kind == "var":
        return _variable(node[1])
    if kind == "call":
        arg = node[2]
        if node[1] in _STRING_CALLS and arg[0] == "call" and arg[1] in _STRING_CALLS:  # upper(trim(x))
            return _string_pair(_STRING_CALLS[node[1]], _STRING_CALLS[arg[1]], _build(arg[2]))
        return _call(node[1], _build(arg))
    if kind == "not":
        return _not(_build(node[1]))
    if kind == "neg":
        return _negate(_build(node[1]))
    if kind == "op":
        left, right = node[2], node[3]
        if node[1] in _ORDER or node[1] in ("==", "!="):
            if right[0] == "lit" and left[0] != "lit":
                return _against_literal(node[1], _build(left), right[1], literal_first=False)
            if left[0] == "lit" and right[0] != "lit":
                return _against_literal(node[1], _build(right), left[1], literal_first=True)
        return _operator(node[1], _build(left), _build(right))
    if kind == "in":
        return _membership(_build(node[1]), node[2])
    if kind in ("and", "or"):
        return _logical(kind == "or", _build(node[1]), _build(node[2]))
    return _conditional(_build(node[1]), _build(node[2]), _build(node[3]))


def _variable(name: str) -> Native:
    def read(scope: Scope) -> Any:
        try:
            return scope[name]
        except KeyError:  # CEL reports the undeclared variable
            raise Defer from None

    return read


def _guarded(body: Native, names: tuple[str, ...]) -> Native:
    """CEL converts every bound variable before it evaluates, even one a `||` never reads: a value it
    cannot convert (a lone surrogate) or converts its own way (ints past 64 bits become doubles;
    bytes, lists, maps) fails or changes the whole expression. Only plain values take the fast path."""

    if len(names) == 1:  # most rules read one field: no loop (the claims example: 8 of 9 expressions)
        return _guarded_one(body, names[0])

    def native(scope: Scope) -> Any:
        for name in names:
            if not _plain(scope.get(name)):  # a missing one is read lazily, as CEL does
                raise Defer
        return body(scope)

    return native


def _guarded_one(body: Native, name: str) -> Native:
    """_guarded's check for an expression that reads one variable."""

    def native(scope: Scope) -> Any:
        value: Any = scope.get(name)
        kind = type(value)
        # the common plain values checked here, the rest by _plain: one call less an evaluation
        if (kind is str and value.isascii()) or kind is float or kind is bool or value is None:
            return body(scope)
        if not _plain(value):
            raise Defer
        return body(scope)

    return native


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


def _call(name: str, arg: Native) -> Native:
    if name == "size":

        def size(scope: Scope) -> int:
            value = arg(scope)
            if type(value) is str and value.isascii():  # CEL's size counts UTF-8 bytes
                return len(value)
            raise Defer

        return size
    fn = _STRING_CALLS[name]

    def string_call(scope: Scope) -> str | None:
        value = arg(scope)
        if type(value) is str:
            return fn(value)
        if value is None:  # dana_workflows.workflow.cel_expr.EXTRA_FUNCTIONS map null to null
            return None
        raise Defer

    return string_call


def _string_pair(outer: Callable[[str], str], inner: Callable[[str], str], arg: Native) -> Native:
    """`outer(inner(x))` for two string calls, as one closure: a string stays a string through both,
    null stays null, anything else defers, as the two nested `string_call`s would."""

    def string_pair(scope: Scope) -> str | None:
        value = arg(scope)
        if type(value) is str:
            return outer(inner(value))
        if value is None:
            return None
        raise Defer

    return string_pair


def _not(arg: Native) -> Native:
    def negation(scope: Scope) -> bool:
        value = arg(scope)
        if type(value) is bool:
            return not value
        raise Defer

    return negation


def _negate(arg: Native) -> Native:
    def minus(scope: Scope) -> int | float:
        value = arg(scope)
        if type(value) is float or (type(value) is int and value != INT64_MIN):
            return -value
        raise Defer

    return minus


def _operator(symbol: str, left: Native, right: Native) -> Native:
    if symbol in ("==", "!="):
        same = symbol == "=="

        def equality(scope: Scope) -> bool:
            a, b = left(scope), right(scope)
            if type(a) is type(b) and type(a) in _EQUALITY_TYPES:
                return (a == b) is same
            raise Defer  # mixed types: CEL has its own (numeric, heterogeneous) rules

        return equality
    if symbol in _ORDER:
        order = _ORDER[symbol]

        def comparison(scope: Scope) -> bool:
            a, b = left(scope), right(scope)
            kind = type(a)
            if kind is type(b) and (
                kind is int
                or (kind is float and a == a and b == b)  # CEL refuses to order NaN
                or (kind is str and a.isascii() and b.isascii())
            ):
                return bool(order(a, b))
            raise Defer

        return comparison
    return _arithmetic(symbol, left, right)


def _against_literal(symbol: str, operand: Native, literal: Any, *, literal_first: bool) -> Native:
    """A comparison of an expression with a literal (`amount > 0.0`, `route != 'auto_pay'`): what
    `_operator` does, with the literal's own checks made once, here, instead of on every event."""
    kind = type(literal)
    if symbol in ("==", "!="):
        same = symbol == "=="
        if kind not in _EQUALITY_TYPES:
            return _operator(symbol, operand, lambda scope: literal)

        def equality(scope: Scope) -> bool:
            value = operand(scope)
            if type(value) is kind:
                return (value == literal) is same
            raise Defer  # mixed types: CEL has its own (numeric, heterogeneous) rules

        return equality
    if not (kind is int or (kind is float and literal == literal) or (kind is str and literal.isascii())):
        return _operator(symbol, operand, lambda scope: literal)  # a literal CEL would not order
    # `0.0 < amount` is `amount > 0.0`: these literals and the values compared with them are totally ordered
    order = _ORDER[_MIRRORED[symbol] if literal_first else symbol]

    def comparison(scope: Scope) -> bool:
        value = operand(scope)
        if type(value) is kind and (
            kind is int
            or (kind is float and value == value)  # CEL refuses to order NaN
            or (kind is str and value.isascii())
        ):
            return bool(order(value, literal))
        raise Defer

    return comparison


def _arithmetic(symbol: str, left: Native, right: Native) -> Native:
    apply = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[symbol]

    def arithmetic(scope: Scope) -> Any:
        a, b = left(scope), right(scope)
        kind = type(a)
        if kind is not type(b):
            raise Defer  # CEL does not mix int and double
        if kind is float and not (symbol == "/" and b == 0.0):
            return apply(a, b)
        if kind is int and symbol != "/":  # CEL's int division truncates and checks zero
            result = apply(a, b)
            if INT64_MIN <= result <= INT64_MAX:
                return result
        if kind is str and symbol == "+":
            return a + b
        raise Defer

    return arithmetic


def _membership(item: Native, values: tuple[Any, ...]) -> Native:
    kinds = {type(v) for v in values}
    kind = kinds.pop() if len(kinds) == 1 else None
    members = frozenset(values) if kind in (str, int) else None

    def membership(scope: Scope) -> bool:
        value = item(scope)
        if members is not None and type(value) is kind:
            return value in members
        raise Defer

    return membership


def _logical(is_or: bool, left: Native, right: Native) -> Native:
    decisive = is_or  # `true || …` is true and `false && …` is false, whatever the right side is

    def logical(scope: Scope) -> bool:
        a = left(scope)
        if a is decisive:
            return a
        if a is (not decisive):
            b = right(scope)
            if type(b) is bool:
                return b
        raise Defer  # an error or non-bool on either side: CEL's commutative error rules apply

    return logical


def _conditional(cond: Native, then: Native, otherwise: Native) -> Native:
    def conditional(scope: Scope) -> Any:
        chosen = cond(scope)
        if chosen is True:
            return then(scope)
        if chosen is False:
            return otherwise(scope)
        raise Defer

    return conditional
