"""A parser for the small, common subset of CEL that `workflow.cel_native` evaluates in Python.

Only what spec authors write most is accepted: literals (int, double, plain quoted strings, true,
false, null), variables, `! -`, `* / + -`, comparisons, `in [literal, ...]`, `&& ||`, `? :`, and the
calls `upper lower trim size`. Anything else (member access, macros, escapes, uints, bytes, `%`)
returns None, and the expression keeps running on the CEL library alone. The static analysis reads a
few more calls (the conversions `int double string`): it names them with `calls`.

The tree is plain tuples: ("lit", value), ("var", name), ("call", name, arg), ("not", x), ("neg", x),
("op", symbol, left, right), ("in", x, values), ("and", a, b), ("or", a, b), ("cond", c, a, b).
"""

from __future__ import annotations

import re
from typing import Any

Node = tuple[Any, ...]

NATIVE_CALLS = frozenset({"upper", "lower", "trim", "size"})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_RELATIONS = ("==", "!=", "<=", ">=", "<", ">")

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)"
    r"|(?P<str>'[^'\\\n]*'|\"[^\"\\\n]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<sym>==|!=|<=|>=|&&|\|\||[<>!?:()\[\],+\-*/])"
    r")"
)


class _Unsupported(Exception):
    """Outside the subset: the caller falls back to the CEL library."""


def _tokens(source: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, end = 0, len(source.rstrip())
    while pos < end:
        m = _TOKEN.match(source, pos)
        if m is None or m.lastgroup is None:
            raise _Unsupported
        out.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], calls: frozenset[str]) -> None:
        self.tokens = tokens
        self.calls = calls
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens) or (expected is not None and self.tokens[self.pos][1] != expected):
            raise _Unsupported
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expr(self) -> Node:
        cond = self.disjunction()
        if self.peek() != "?":
            return cond
        self.take("?")
        then = self.disjunction()
        self.take(":")
        return ("cond", cond, then, self.expr())

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.peek() == "||":
            self.take()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.relation()
        while self.peek() == "&&":
            self.take()
            node = ("and", node, self.relation())
        return node

    def relation(self) -> Node:
        node = self.sum()
        while (op := self.peek()) in _RELATIONS or op == "in":
            self.take()
            node = ("in", node, self.literal_list()) if op == "in" else ("op", op, node, self.sum())
        return node

    def literal_list(self) -> tuple[Any, ...]:
        self.take("[")
        values: list[Any] = []
        while self.peek() != "]":
            item = self.unary()
            if item[0] != "lit":
                raise _Unsupported
            values.append(item[1])
            if self.peek() != "]":
                self.take(",")
        self.take("]")
        return tuple(values)

    def sum(self) -> Node:
        node = self.product()
        while (op := self.peek()) in ("+", "-"):
            self.take()
            node = ("op", op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (op := self.peek()) in ("*", "/"):
            self.take()
            node = ("op", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            return ("not", self.unary())
        if self.peek() == "-":
            self.take()
            operand = self.unary()
            if operand[0] == "lit" and type(operand[1]) in (int, float):
                return ("lit", -operand[1])  # a negative number literal, as CEL reads it
            return ("neg", operand)
        return self.primary()

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return ("lit", _number(text))
        if kind == "str":
            return ("lit", text[1:-1])
        if kind == "name":
            literal = {"true": True, "false": False, "null": None}
            if text in literal:
                return ("lit", literal[text])
            if self.peek() != "(":
                return ("var", text)
            if text not in self.calls:
                raise _Unsupported
            self.take("(")
            arg = self.expr()
            self.take(")")
            return ("call", text, arg)
        if text == "(":
            inner = self.expr()
            self.take(")")
            return inner
        raise _Unsupported


def _number(text: str) -> int | float:
    if "." in text or "e" in text or "E" in text:
        return float(text)
    value = int(text)
    if value > INT64_MAX:
        raise _Unsupported
    return value


def parse_subset(source: str, calls: frozenset[str] = NATIVE_CALLS) -> Node | None:
    """The expression's tree, or None when it uses anything outside the subset (or a call not in
    `calls`: the native evaluator's by default)."""
    try:
        parser = _Parser(_tokens(source), calls)
        tree = parser.expr()
        if parser.pos != len(parser.tokens):
            raise _Unsupported
        return tree
    except _Unsupported:
        return None


_CHILDREN = {
    "lit": (),
    "var": (),
    "call": (2,),
    "not": (1,),
    "neg": (1,),
    "op": (2, 3),
    "in": (1,),
    "and": (1, 2),
    "or": (1, 2),
    "cond": (1, 2, 3),
}


def variables_of(tree: Node) -> set[str]:
    """The variables a tree reads (checked against the CEL library's own list)."""
    if tree[0] == "var":
        return {tree[1]}
    return set().union(*(variables_of(tree[i]) for i in _CHILDREN[tree[0]]))
