"""The static type of a CEL expression of the parsed subset (workflow.cel_parse), and its type errors.

CEL checks types only when an expression runs, so `300 <= credit_score <= 850` passes the parser and then
fails on every event with "No such overload". Here the same mistakes are found from the fields'
declared types. The rules are the CEL library's own, as probed on it: arithmetic needs two ints, two
doubles or (for `+`) two strings; an ordering compares numbers (int and double mix), strings or booleans;
`&& || ! ?:` need booleans; `==`, `!=` and `in` take anything (values of other types are simply unequal).
So `qty == '2'` runs, and is false on every event: an equality between a number, a string and a boolean
(other than null) is refused here as the mistake it is (the number typed in quotes, as it came in a CSV).
The conversions docs/expressions.md recommends are read too: `double(x)` and `int(x)` take a number or
text (text that is not a number fails when it runs), `string(x)` a number or text; a boolean or null
fails all three with "No such overload", as probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from dana_workflows.workflow.cel_parse import NATIVE_CALLS, Node, parse_subset

# Kinds: the CEL types of the subset; "dyn" where the kind cannot be known statically (an error was
# already reported below it), so one mistake is reported once.
INT, DOUBLE, STRING, BOOL, NULL, DYN = "int", "double", "string", "bool", "null", "dyn"
NUMERIC = frozenset({INT, DOUBLE})
SPEC_KINDS = {"string": STRING, "long": INT, "int": INT, "double": DOUBLE, "float": DOUBLE, "boolean": BOOL}
_ARITHMETIC = frozenset({"+", "-", "*", "/"})
_ORDERING = frozenset({"<", "<=", ">", ">="})
_STRING_CALLS = frozenset({"upper", "lower", "trim"})
CONVERSIONS = {"int": INT, "double": DOUBLE, "string": STRING}  # each call and the kind it gives
_FROM_BOOLEAN = {"int": "1 : 0", "double": "1.0 : 0.0", "string": "'true' : 'false'"}  # what to write
_ANALYSED_CALLS = NATIVE_CALLS | frozenset(CONVERSIONS)


def parse_analysed(expr: str) -> Node | None:
    """The tree the analysis reads: the native subset and the conversions; None outside it."""
    return parse_subset(expr, _ANALYSED_CALLS)


@dataclass(frozen=True, slots=True)
class TypeProblem:
    message: str
    fix: str


class _Checker:
    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.problems: list[TypeProblem] = []

    def report(self, message: str, fix: str) -> str:
        self.problems.append(TypeProblem(message, fix))
        return DYN

    def kind(self, node: Node) -> str:
        tag = node[0]
        if tag == "lit":
            return _literal_kind(node[1])
        if tag == "var":
            return self.kinds.get(node[1], DYN)
        if tag == "call":
            return self.call(node[1], node[2])
        if tag == "not":
            return self.boolean(node[1], "!") and BOOL
        if tag == "neg":
            k = self.kind(node[1])
            if k in NUMERIC or k == DYN:
                return k
            return self.report(f"'-' needs a number, got {k} ({render(node[1])})", "negate a number")
        if tag == "op":
            return self.operator(node)
        if tag == "in":
            self.kind(node[1])
            return BOOL
        if tag in ("and", "or"):
            symbol = "&&" if tag == "and" else "||"
            self.boolean(node[1], symbol)
            self.boolean(node[2], symbol)
            return BOOL
        # ("cond", c, a, b)
        self.boolean(node[1], "?:")
        then, other = self.kind(node[2]), self.kind(node[3])
        if then == other or other == NULL:
            return then
        return other if then == NULL else DYN

    def boolean(self, node: Node, symbol: str) -> str:
        k = self.kind(node)
        if k not in (BOOL, DYN):
            self.report(
                f"'{symbol}' needs true or false, but {render(node)} is {k}",
                f"compare it, e.g. {render(node)} > 0" if k in NUMERIC else "use a comparison here",
            )
        return BOOL

    def call(self, name: str, arg: Node) -> str:
        k = self.kind(arg)
        if name in CONVERSIONS:
            return self.conversion(name, arg, k)
        if k not in (STRING, DYN, NULL):  # upper/lower/trim would run on str() of it: refused all the same
            fix = f"{name}(string({render(arg)}))" if name != "size" else "size() of a string"
            return self.report(f"{name}() needs a string, got {k} ({render(arg)})", fix)
        return INT if name == "size" else STRING

    def conversion(self, name: str, arg: Node, k: str) -> str:
        if k in (BOOL, NULL):
            fix = f"{_wrapped(arg)} ? {_FROM_BOOLEAN[name]}" if k == BOOL else "convert a number or text"
            return self.report(f"{name}() of {k} fails on every event ({render(arg)})", fix)
        return CONVERSIONS[name]

    def operator(self, node: Node) -> str:
        _, symbol, left, right = node
        lk, rk = self.kind(left), self.kind(right)
        if DYN in (lk, rk):
            return BOOL if symbol in _ORDERING or symbol in ("==", "!=") else DYN
        if symbol in ("==", "!="):
            if lk != rk and NULL not in (lk, rk) and not (lk in NUMERIC and rk in NUMERIC):
                always = "false" if symbol == "==" else "true"
                return self.report(
                    f"compares {lk} with {rk} in {render(node)}, which is {always} on every event "
                    "(values of two types are never equal)",
                    _equality_fix(node, lk, rk),
                )
            return BOOL
        if symbol in _ORDERING:
            if (lk in NUMERIC and rk in NUMERIC) or (lk == rk and lk in (STRING, BOOL)):
                return BOOL
            return self.report(
                f"cannot order {lk} and {rk} in {render(node)}", _ordering_fix(left, symbol, right, lk, rk)
            )
        # arithmetic
        if lk == rk and (lk in NUMERIC or (lk == STRING and symbol == "+")):
            return lk
        return self.report(f"cannot compute {lk} {symbol} {rk} in {render(node)}", _arith_fix(node, lk, rk))


def _ordering_fix(left: Node, symbol: str, right: Node, lk: str, rk: str) -> str:
    # `a <= x <= b` reads as `(a <= x) <= b`: a boolean ordered against a number
    if left[0] == "op" and left[1] in _ORDERING and lk == BOOL:
        middle = render(left[3])
        return f"{render(left)} && {middle} {symbol} {render(right)}"
    if NULL in (lk, rk):
        return "test for null first: x != null && x < ..."
    return "compare values of one type (numbers with numbers, text with text)"


def _equality_fix(node: Node, lk: str, rk: str) -> str:
    # a number in quotes (`qty == '2'`): the same comparison with the number itself
    _, symbol, left, right = node
    number = INT if INT in (lk, rk) else DOUBLE if DOUBLE in (lk, rk) else None
    quoted = right if rk == STRING else left
    if number is not None and quoted[0] == "lit":
        try:
            value: object = int(str(quoted[1])) if number == INT else float(str(quoted[1]))
        except ValueError:
            value = None
        if value is not None:
            unquoted: Node = ("lit", value)
            fixed = (node[0], symbol, left, unquoted) if rk == STRING else (node[0], symbol, unquoted, right)
            return f"write the number without quotes: {render(fixed)}"
    return "compare values of one type (numbers with numbers, text with text)"


def _arith_fix(node: Node, lk: str, rk: str) -> str:
    _, symbol, left, right = node
    if {lk, rk} == NUMERIC:
        int_side, other = (left, right) if lk == INT else (right, left)
        if int_side[0] == "lit":
            # the literal node itself is replaced (a text replace would hit digits of a field name first)
            decimal: Node = ("lit", float(int_side[1]))
            fixed = (node[0], symbol, decimal, right) if lk == INT else (node[0], symbol, left, decimal)
            return f"write the whole number as a decimal: {render(fixed)}"
        return f"convert explicitly: double({render(int_side)}) {symbol} {render(other)}"
    if STRING in (lk, rk) and symbol == "+":
        return "convert the number to text: string(x) + '...'"
    if NULL in (lk, rk):
        return "test for null first: x == null ? ... : x ..."
    return f"'{symbol}' needs two numbers of one type"


def _literal_kind(value: object) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return DOUBLE
    return STRING


def infer(tree: Node, kinds: dict[str, str]) -> tuple[str, list[TypeProblem]]:
    """The expression's kind and every type error in it (the kinds map field names to CEL kinds)."""
    checker = _Checker(kinds)
    kind = checker.kind(tree)
    return kind, checker.problems


def render(node: Node) -> str:
    """The tree back as CEL text (for messages and fixes)."""
    tag = node[0]
    if tag == "lit":
        return _render_literal(node[1])
    if tag == "var":
        return str(node[1])
    if tag == "call":
        return f"{node[1]}({render(node[2])})"
    if tag == "not":
        return f"!{_wrapped(node[1])}"
    if tag == "neg":
        return f"-{_wrapped(node[1])}"
    if tag == "op":
        return f"{_wrapped(node[2])} {node[1]} {_wrapped(node[3])}"
    if tag == "in":
        return f"{_wrapped(node[1])} in [{', '.join(_render_literal(v) for v in node[2])}]"
    if tag in ("and", "or"):
        return f"{_wrapped(node[1])} {'&&' if tag == 'and' else '||'} {_wrapped(node[2])}"
    return f"{_wrapped(node[1])} ? {_wrapped(node[2])} : {_wrapped(node[3])}"


def _wrapped(node: Node) -> str:
    text = render(node)
    return f"({text})" if node[0] in ("op", "and", "or", "cond", "in") else text


def _render_literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)
