"""String formats learned as patterns: ids like AB123456, ISO dates, emails, codes.

Known formats are recognised first (their regex says what the value *is*, e.g. a month 01-12); the
rest are learned from each value's shape, its runs of letters, digits and punctuation: when every
value has the same runs of the same lengths the pattern is exact (`^[A-Z]{2}[0-9]{6}$`); when only the
lengths vary the runs become `+`. Values of different shapes give no pattern: free text is not a format.
Regexes avoid backslashes so rules stay in the subset the fast path evaluates.
"""

from __future__ import annotations

import re
from itertools import groupby

from dana_workflows.objectives.profilers.column import Column, guarded, literal, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

KNOWN_FORMATS: tuple[tuple[str, str], ...] = (
    ("an ISO 8601 date", "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"),
    (
        "an ISO 8601 timestamp",
        "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$",
    ),
    ("an email address", "^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}$"),
    ("a UUID", "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
)
_CLASSES = {"A": "[A-Z]", "a": "[a-z]", "9": "[0-9]"}


def _char_class(c: str) -> str:
    if "A" <= c <= "Z":
        return "A"
    if "a" <= c <= "z":
        return "a"
    if "0" <= c <= "9":
        return "9"
    return c


def runs(value: str) -> tuple[tuple[str, int], ...]:
    """'AB-12' -> (('A', 2), ('-', 1), ('9', 2))."""
    return tuple((k, len(list(g))) for k, g in groupby(_char_class(c) for c in value))


def _piece(cls: str, lo: int, hi: int) -> str:
    if cls in _CLASSES:
        body = _CLASSES[cls]
    elif cls.isalnum() or cls in " _-@:/,'\"":
        body = cls if cls != " " else " "
    else:
        body = f"[{cls}]" if cls not in "^]" else "[" + cls + "]"
    if lo == hi:
        return body if lo == 1 else f"{body}{{{lo}}}"
    return f"{body}+"


def learned_regex(values: list[str]) -> str | None:
    """One regex covering every value's shape, or None when the shapes disagree."""
    shapes = {runs(v) for v in values}
    classes = {tuple(k for k, _ in s) for s in shapes}
    if len(classes) != 1:
        return None
    seq = next(iter(classes))
    if not seq or (all(c in ("a", "A", " ") for c in seq) and len(seq) > 3):
        return None  # words and spaces: prose, not a format
    pieces = []
    for i, cls in enumerate(seq):
        lengths = {s[i][1] for s in shapes}
        pieces.append(_piece(cls, min(lengths), max(lengths)))
    head = _constant_head(values, seq)
    if head:
        pieces[0] = head
    return "^" + "".join(pieces) + "$"


def _constant_head(values: list[str], seq: tuple[str, ...]) -> str:
    """The leading letters when every value starts with the same ones (`WZ` of meter serials `WZ12345678`,
    `DE` of German IBANs): a constant of the format, written as itself, not as any letters of that
    length (a serial of another maker or an IBAN of another country has the shape but not the head)."""
    if seq[0] not in ("A", "a"):
        return ""
    heads = {v[: runs(v)[0][1]] for v in values}
    return heads.pop() if len(heads) == 1 else ""


def profile(col: Column, settings: InferenceSettings) -> list[Candidate]:
    present = col.present
    if col.field.type != "string" or len(present) < settings.min_values or not all(present):
        return []
    for what, known in KNOWN_FORMATS:
        if all(re.fullmatch(known, v) for v in present):
            return [pattern_candidate(col, known, f"all {len(present)} values are {what}", 1.0, "format")]
    regex = learned_regex(present)
    if regex is None or len(set(present)) < 5:
        return []
    exact = "+" not in regex.replace("[+]", "")  # a run of any length, not a written plus sign
    strength = 1.0 if exact else 0.8
    shape = "the same shape" if exact else "the same runs of letters, digits and marks"
    return [pattern_candidate(col, regex, f"all {len(present)} values have {shape}", strength, "learned")]


def pattern_candidate(col: Column, regex: str, basis: str, strength: float, how: str) -> Candidate:
    """The format rule of ``col``: ``regex`` over its present values (``how`` says how the regex was made,
    for refinement: learned, counter, known)."""
    return Candidate(
        id=f"{col.name}_pattern",
        rule=guarded(col, f"{col.name}.matches({literal(regex, 'string')})"),
        profile="pattern",
        fields=(col.name,),
        message=f"{col.name} must match {regex}",
        basis=basis,
        strength=strength * support_factor(len(col.present)),
        support=len(col.present),
        kind="pattern",
        refine={"regex": regex, "how": how},
    )
