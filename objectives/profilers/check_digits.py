"""Check digits: an id whose one digit is computed from the others by a published scheme.

Registries protect their numbers against typing errors with a check digit (the IMO ship number, GS1's
GTIN, the NPI's Luhn, the PZN, the ISBN-10, the German LANR). An expert validating such a field writes
the scheme, and a wrong digit or two swapped digits break it where a format rule passes them.

The schemes are a small library of the weightings registries use (a weight per position, or Luhn's
doubling), a modulus (10 or 11), and the check written as the sum's remainder or as its complement.
For a string field of digits only, all of one length, each scheme is tried with the check digit at
each position (most schemes put it last; the LANR puts it before a two-digit group). A scheme is
offered only when every sample value satisfies it and chance is excluded: if the check digit had
nothing to do with the others, one event would match with q = sum_d P(check = d) P(computed = d)
(0.1 for uniform digits), n events with q^n; times the number of schemes tried, that must stay within
`relation_chance`. A constant check digit over constant other digits (q = 1) is never a scheme.

The rule is written in the project's CEL with integer arithmetic on `int(x)` (a digit is `int(x) /
10^k % 10`), the way the suite's experts wrote theirs: a value that is not a number breaks it.

A mod-11 check is 10 on about one value in eleven. The PZN never issues such numbers; the ISBN-10 and
the ISSN write the 10 as X, which `int(x)` cannot read (and the project's CEL has no substring to cut
it off), so their rule would reject a valid `080442957X`. A sample of digits only tells the two apart
when an X-registry would have shown an X in it: (10/11)^n within `relation_chance` (n >= 49 at 1%);
a shorter one gets no mod-11 scheme on a string. A whole number (an id declared as a long) holds no X.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from dana_workflows.objectives.profilers.column import Column, guarded, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

# int64 holds 18 digits whole; fewer than 4 digits are a code, not a registered number.
MIN_DIGITS = 4
MAX_DIGITS = 18


@dataclass(frozen=True, slots=True)
class Scheme:
    """A weighting of the digits before the check position, a modulus and how the check is read."""

    name: str
    weights: tuple[int, ...]  # per digit, left to right, before the check digit
    modulus: int  # 10 or 11
    complement: bool  # check == (m - s % m) % m, else check == s % m
    luhn: bool = False  # a doubled digit counts by its digit sum (Luhn)
    offset: int = 0  # a constant added to the sum (the NPI's prefix 80840 adds 24)

    def sum_of(self, digits: Sequence[int]) -> int:
        total = self.offset
        for d, w in zip(digits, self.weights, strict=True):
            p = d * w
            total += p // 10 + p % 10 if self.luhn else p
        return total

    def check(self, digits: Sequence[int]) -> int:
        s = self.sum_of(digits) % self.modulus
        return (self.modulus - s) % self.modulus if self.complement else s


def _repeat(pattern: Sequence[int], m: int, from_right: bool) -> tuple[int, ...]:
    if from_right:
        return tuple(pattern[(m - 1 - i) % len(pattern)] for i in range(m))
    return tuple(pattern[i % len(pattern)] for i in range(m))


def schemes_for(m: int) -> list[Scheme]:
    """The registries' weightings for m digits before the check digit, most common first."""
    out: list[Scheme] = []
    # GS1 (GTIN, GLN, SSCC): 3 next to the check digit, then 1, alternating; complement mod 10.
    out.append(Scheme("GS1 mod 10 (weights 3, 1 from the right)", _repeat((3, 1), m, True), 10, True))
    # Luhn (cards, NPI over 80840, IMEI): 2 next to the check digit; the offset stands for a fixed
    # prefix left out of the number (80840 adds 24, so any offset 0-9 is one of ten prefixes).
    for offset in range(10):
        out.append(
            Scheme(
                f"Luhn mod 10{f' (+{offset})' if offset else ''}",
                _repeat((2, 1), m, True),
                10,
                True,
                True,
                offset,
            )
        )
    # Falling weights (IMO 7..2; ISBN-10 10..2 mod 11) and rising ones (PZN-8 1..7, PZN-7 2..8).
    falling = tuple(range(m + 1, 1, -1))
    rising1 = tuple(range(1, m + 1))
    rising2 = tuple(range(2, m + 2))
    for label, weights in (("falling", falling), ("rising from 1", rising1), ("rising from 2", rising2)):
        for modulus in (10, 11):
            for complement in (False, True):
                how = "complement" if complement else "remainder"
                out.append(Scheme(f"weights {label}, mod {modulus} {how}", weights, modulus, complement))
    # Alternating pairs (LANR 4, 9; DEA-like 1, 2) and ICAO 9303's 7, 3, 1, from the left.
    for pattern in ((1, 3), (4, 9), (9, 4), (1, 2), (2, 1), (7, 3, 1)):
        for complement in (False, True):
            how = "complement" if complement else "remainder"
            out.append(
                Scheme(
                    f"weights {pattern} from the left, mod 10 {how}",
                    _repeat(pattern, m, False),
                    10,
                    complement,
                )
            )
    return out


def _digit(number: str, length: int, i: int) -> str:
    """Digit i (from the left) of a number of `length` digits, in integer arithmetic."""
    power = length - 1 - i
    return f"{number} % 10" if power == 0 else f"{number} / {10**power} % 10"


def rule_of(name: str, length: int, position: int, scheme: Scheme, text: bool = True) -> str:
    """The scheme in CEL over the field: `int(x)` for digits held as text, `x` for a whole number."""
    number = f"int({name})" if text else name
    terms: list[str] = [str(scheme.offset)] if scheme.offset else []
    for i, w in enumerate(scheme.weights):
        d = _digit(number, length, i)
        if scheme.luhn and w == 2:
            terms.append(f"({d}) * 2 / 10 + ({d}) * 2 % 10")
        elif w == 1:
            terms.append(d)
        else:
            terms.append(f"{d} * {w}")
    m = scheme.modulus
    computed = f"({' + '.join(terms)}) % {m}"
    if scheme.complement:
        computed = f"({m} - {computed}) % {m}"
    # The digit arithmetic reads a number of exactly `length` digits: pin the length first, so that a
    # digit too many or too few, or a sign, fails the rule instead of being read as other digits
    # (19074729 would pass IMO's check on its last seven digits). `&&` lets the pin stop `int()` too.
    if text:
        pin = f"{name}.matches('^[0-9]{{{length}}}$')"
    else:
        pin = f"{name} >= {10 ** (length - 1)} && {name} < {10**length}"
    return f"{pin} && {computed} == {_digit(number, length, position)}"


def _chance(checks: Sequence[int], computed: Sequence[int]) -> float:
    """Per event: the chance that an unrelated check digit equals the computed one."""
    n = len(checks)
    pc, pf = Counter(checks), Counter(computed)
    return sum(pc[d] * pf.get(d, 0) for d in pc) / (n * n)


def find_scheme(rows: list[list[int]], settings: InferenceSettings) -> tuple[int, Scheme, float] | None:
    """The first (position from the last, scheme) every row satisfies beyond chance: (position,
    scheme, chance that unrelated digits would show it on every row)."""
    length = len(rows[0])
    tried = sum(len(schemes_for(p)) for p in range(1, length))
    n = len(rows)
    for position in range(length - 1, 0, -1):
        checks = [r[position] for r in rows]
        for scheme in schemes_for(position):
            if any(scheme.check(r[:position]) != r[position] for r in rows):
                continue  # most schemes fail on the first rows: stop there
            computed = [scheme.check(r[:position]) for r in rows]
            # q > 0: every row matched, so the check digits and the computed ones share a value
            chance = _chance(checks, computed) ** n
            if chance * tried <= settings.relation_chance:
                return position, scheme, chance
    return None


def profile(col: Column, settings: InferenceSettings) -> list[Candidate]:
    """A string of digits, or a whole number (an id declared as a long), all of one length."""
    text = col.field.type == "string"
    if not text and col.field.type not in ("int", "long"):
        return []
    present = [v if text else str(v) for v in col.present]
    if len(present) < settings.min_values:
        return []
    if not all(isinstance(v, str) and re.fullmatch("[0-9]+", v) for v in present):
        return []  # a negative number is no registry's id
    length = len(present[0])
    if not MIN_DIGITS <= length <= MAX_DIGITS or any(len(v) != length for v in present):
        return []
    found = find_scheme([[int(c) for c in v] for v in present], settings)
    if found is None:
        return []
    position, scheme, chance = found
    if text and scheme.modulus == 11 and (10 / 11) ** len(present) > settings.relation_chance:
        return []  # too few values to tell "10 is never issued" (PZN) from "10 is written X" (ISBN-10)
    where = "last digit" if position == length - 1 else f"digit {position + 1} of {length}"
    return [
        Candidate(
            id=f"{col.name}_check_digit",
            rule=guarded(col, rule_of(col.name, length, position, scheme, text)),
            profile="check digit",
            fields=(col.name,),
            message=f"{col.name}'s check digit ({where}) must fit {scheme.name}",
            basis=f"all {len(present)} values fit {scheme.name}; by chance {chance:.1e}",
            strength=support_factor(len(present)),
            support=len(present),
            kind="check_digit",
        )
    ]
