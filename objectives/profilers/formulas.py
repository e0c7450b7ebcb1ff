"""A result written to its own step: a product or a ratio of two fields, times a round constant, or
one field converted to another unit.

`load_pct == load_kg * 100 / rated_capacity_kg`, `gor == gas_mcf * 1000 / oil_bbl`, `hprd == hours /
census`, `co2_t == heat_mmbtu * ef_kg / 1000`: a derived field is computed from two others and then
written to the step its readers use (a percentage to 0.1, a rate per resident to 0.001). The sums,
products and rates of `relations` hold within a cent (`sum_tolerance`), so a result rounded to 0.1
misses them by up to half a step, and they have no constant beside a product nor any ratio. Here:

- the tolerance is half the result's written step (`ranges.resolution` of its sample values), never
  under `sum_tolerance`: rounding to a step moves a value by at most half of it;
- the constant is read off the sample as a rate's is (`relations.rates`): every event bounds it, the
  bounds must meet, and the roundest number between them (`relations.roundest`) is taken when it has
  at most MAX_RATE_DIGITS significant digits (100, 1000, 0.001, 1: a unit's or a scale's number);
- beyond chance: the share of mismatched pairs (k * a_i op b_i, result_j) that agree anyway, to the
  n-th power (`relations.chance_of_product`), is at most `relation_chance` shared (Bonferroni) over
  every (result, factor, factor, operation) tried in the dataset; with 20 numbers that is thousands
  of tests, which a made field passes by hundreds of orders of magnitude and a coincidence does not;
- each factor varies, the result takes at least `min_values` values (a short menu is chosen, not
  made) and is not always within its tolerance of zero (as for products); a quotient's result is not
  a whole number (a count is counted), and an event whose divisor is zero is not judged;
- one formula per result and one per set of three fields, the fewest digits in the constant first,
  then the product before the ratio; a result a sum, a balance, a product, a rate or a rated sum
  already makes (`taken`), or three fields one of them joins (`said`), is left to it.

A conversion (round 16): `outrigger_load_kn == 9.81 * outrigger_load_t`, `rated_capacity_lb ==
2204.62 * rated_capacity_t`, `glucose_mmol_l == 0.0555 * glucose_mg_dl`: one field in another unit,
written to its own step. `relations.rates` holds within a cent with at most MAX_RATE_DIGITS digits (a
policy's rate); a unit's factor is a physical constant given to as many digits as its table has, so
here k may have up to MAX_CONVERSION_DIGITS, the tolerance is the result's half step as above, and the
same chance test and shared budget judge it (each conversion is one more try). k is not 1 (a copy is
not a conversion, as a rate is not), and of `a == k * b` and `b == a / k` the rounder constant is kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from dana_workflows.objectives.profilers.column import INTEGER_TYPES, Column, literal, support_factor
from dana_workflows.objectives.profilers.ranges import resolution
from dana_workflows.objectives.profilers.relations import (
    MAX_RATE_DIGITS,
    _as_double,
    _digits,
    _null_guard,
    chance_of_product,
    constant_bounds,
    roundest,
)
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

# the relations whose result is already said (relations.profile); a formula here would repeat it
TOTAL_KINDS = frozenset({"sum", "balance", "product", "rate", "rated_sum"})
# half a step, plus room for the double's own error (66.65 written 66.7 is 0.05 off, give or take 1e-15)
_ROOM = 1.001
# a unit's factor, as its tables give it: 2204.62 lb per t, 18.016 mg/dl per mmol/l of glucose
MAX_CONVERSION_DIGITS = 6


@dataclass(frozen=True, slots=True)
class _Fit:
    result: Column
    a: Column
    b: Column | None  # None: a conversion, k * a
    ratio: bool  # k * a / b, else k * a * b
    k: float
    tol: float
    rows: int
    chance: float


def tolerance(result: Column, settings: InferenceSettings) -> float:
    """Half the step the result is written to, never under the sums' tolerance."""
    step = resolution([float(v) for v in result.present])
    return max(settings.sum_tolerance, step / 2 * _ROOM) if step is not None else settings.sum_tolerance


def fit(
    result: Column,
    a: Column,
    b: Column | None,
    ratio: bool,
    settings: InferenceSettings,
    tol: float | None = None,
) -> _Fit | None:
    """`result == k * a op b` (or `k * a` when b is None) within the result's tolerance on every sample
    event where all are set, k the roundest constant the events allow (at most MAX_RATE_DIGITS digits,
    MAX_CONVERSION_DIGITS for a conversion), else None."""
    tol = tolerance(result, settings) if tol is None else tol
    rows = [
        r
        for r in zip(a.values, b.values if b is not None else [1] * len(a.values), result.values, strict=True)
        if None not in r
    ]
    if ratio and any(y == 0 for _, y, _ in rows):
        return None  # a ratio over a zero: the field is not made this way on every event
    made = ((x / y if ratio else x * y, t) for x, y, t in rows)
    bounds = constant_bounds(made, tol)  # first: on most triples an early event rules it out
    if bounds is None:
        return None
    if len({x for x, _, _ in rows}) < 2 or (b is not None and len({y for _, y, _ in rows}) < 2):
        return None  # a constant factor is a rate of the other one, found by relations.rates
    if len({t for _, _, t in rows}) < settings.min_values:
        # a result that keeps to a short menu (a bag of 60, 69 or 70 kg) is chosen, not made; and
        # fewer than min_values events with all three set cannot show this many values
        return None
    lo, hi = bounds
    k = roundest(lo, hi, closed_low=True) if lo < hi else lo
    digits = MAX_RATE_DIGITS if b is not None else MAX_CONVERSION_DIGITS
    # k == 0: every result lies within the tolerance of zero, which says nothing (zero is a multiple
    # of every step, so the roundest constant of such a sample is zero); k == 1 without a second
    # factor is a copy of a, not a conversion
    if not lo <= k <= hi or k == 0 or (b is None and k == 1) or float(format(k, f".{digits}g")) != k:
        return None
    chance = chance_of_product([(k, x / y if ratio else x * y, t) for x, y, t in rows], tol)
    return _Fit(result, a, b, ratio, k, tol, len(rows), chance)


def _tries(numeric: Sequence[Column], taken: set[str]) -> list[tuple[Column, Column, Column | None, bool]]:
    out: list[tuple[Column, Column, Column | None, bool]] = []
    for result in numeric:
        if result.name in taken:
            continue
        others = [c for c in numeric if c is not result]
        out += [(result, a, None, False) for a in others]
        out += [(result, a, b, False) for a, b in itertools.combinations(others, 2)]
        if result.field.type not in INTEGER_TYPES:
            # a quotient is a measure (a rate per resident, a share); a whole number is counted: of
            # `hprd == hours / census` and `census == hours / hprd` only the first is how it is made
            out += [(result, a, b, True) for a, b in itertools.permutations(others, 2)]
    return out


def _candidate(f: _Fit) -> Candidate:
    op = "/" if f.ratio else "*"
    made = f"{_as_double(f.a)} {op} {_as_double(f.b)}" if f.b is not None else _as_double(f.a)
    if f.k != 1:
        made = f"{literal(f.k, 'double')} * {made}"
    result, t = _as_double(f.result), literal(f.tol, "double")
    body = f"{result} - {made} <= {t} && {made} - {result} <= {t}"
    factors = (f.a, f.b) if f.b is not None else (f.a,)
    if f.ratio and f.b is not None:
        # over a zero the quotient is not defined (CEL refuses it): such an event is not judged here
        body = f"{f.b.name} == {literal(0, f.b.field.type)} || ({body})"
    return Candidate(
        id=f"{f.result.name}_formula",
        rule=_null_guard((*factors, f.result), body),
        profile="relation",
        fields=(*(c.name for c in factors), f.result.name),
        message=f"{f.result.name} must equal {made}",
        basis=f"{f.result.name} = {made} on all {f.rows} events (within {t}, half the step it is written "
        f"to; the roundest constant all of them allow; chance {f.chance:.1g} if unrelated)",
        strength=support_factor(f.rows),
        support=f.rows,
        kind="formula",
    )


def profile(
    cols: Sequence[Column], settings: InferenceSettings, taken: set[str], said: Sequence[set[str]] = ()
) -> list[Candidate]:
    """A formula for each result not `taken`, over three fields no relation in `said` already joins."""
    numeric = [c for c in cols if c.numeric]
    tries = [
        t
        for t in _tries(numeric, taken)
        if not any({c.name for c in t[:3] if c is not None} <= s for s in said)
    ]
    if not tries:
        return []
    share = settings.relation_chance / len(tries)
    tols = {c.name: tolerance(c, settings) for c in numeric}
    best: dict[str, tuple[tuple[int, bool, float], _Fit]] = {}
    for result, a, b, ratio in tries:
        f = fit(result, a, b, ratio, settings, tols[result.name])
        if f is None or f.chance > share:
            continue
        rank = (_digits(f.k), f.ratio, f.chance)
        if result.name not in best or rank < best[result.name][0]:
            best[result.name] = (rank, f)
    # three fields make one formula, whichever is written as the result (`t == 0.001 * q * g` and
    # `q == 1000 * t / g`): the one with the fewest digits in its constant, a product before a ratio
    one: dict[frozenset[str], tuple[tuple[int, bool, float], _Fit]] = {}
    for rank, f in best.values():
        key = frozenset(c.name for c in (f.a, f.b, f.result) if c is not None)
        if key not in one or rank < one[key][0]:
            one[key] = (rank, f)
    return [_candidate(f) for _, f in one.values()]


def beside(found: list[Candidate], cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    """The relations found, and a formula for each result none of them makes."""
    totals = [c for c in found if c.kind in TOTAL_KINDS and c.fields]
    return found + profile(cols, settings, {c.fields[-1] for c in totals}, [set(c.fields) for c in totals])
