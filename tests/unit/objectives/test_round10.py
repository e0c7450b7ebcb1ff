"""Round 10 (docs/objectives.md), three changes.

An implication whose every concluded presence has a premise equivalence of its own is not offered: the
case in which the field is set is already said, and another premise for it is a correlate of that case.

The confidence floor is support_factor(min_values): a rule on the values of an optional field set on
20-29 events is offered (at 0.5 the floor was 30 values for every support-weighted rule).

An order a <= b between two non-negative numbers is offered only when
a reaches at least `order_min_share` (a half) of b on some sample event. A part that never comes within
a factor of two of its whole (VAT and the net amount, a fee and the valuation) is ordered by its share;
the order is then a consequence of that share, as `max(a) < min(b)` makes it one of the ranges.

The samples are made so the order holds on every event and the ranges overlap (so the older range
test does not decide): which order is offered follows from the share alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers import presence, relations
from dana_workflows.objectives.profilers.column import Column, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.sample import Sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR
from tests.unit.objectives.test_round9 import _orders

pytestmark = pytest.mark.unit
DEFAULT = InferenceSettings()


def col(name: str, type_: str, values: Sequence[Any], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type=type_, optional=optional), list(values))  # type: ignore[arg-type]


def _amounts() -> list[float]:
    return [round(10.0 + (i * 37) % 990, 2) for i in range(300)]


def _order_rules(cols: list[Column], settings: InferenceSettings = DEFAULT) -> set[str]:
    return {c.rule for c in relations.orders(cols, settings)}


def test_a_part_that_never_reaches_half_its_whole_is_not_ordered() -> None:
    net = _amounts()
    vat = [round(0.19 * v, 2) for v in net]  # always 19% of the net: a share, never near the bound
    cols = [col("vat_amount", "double", vat), col("net_amount", "double", net)]
    assert max(vat) > min(net)  # the ranges overlap: _ranges_imply does not decide
    assert _order_rules(cols) == set()


def test_a_part_that_comes_near_its_whole_is_ordered() -> None:
    net = _amounts()
    # a discount of up to 80% of the net: the bound is approached on the sample
    discount = [round(v * (0.05 + 0.75 * ((i * 7) % 11) / 10), 2) for i, v in enumerate(net)]
    assert max(d / n for d, n in zip(discount, net, strict=True)) >= 0.5
    cols = [col("discount_amount", "double", discount), col("net_amount", "double", net)]
    assert _order_rules(cols) == {"discount_amount <= net_amount"}


def test_the_share_is_a_setting() -> None:
    net = _amounts()
    vat = [round(0.19 * v, 2) for v in net]
    cols = [col("vat_amount", "double", vat), col("net_amount", "double", net)]
    assert _order_rules(cols, InferenceSettings(order_min_share=0.1)) == {"vat_amount <= net_amount"}
    assert _order_rules(cols, InferenceSettings(order_min_share=0.2)) == set()


def test_dates_are_ordered_whatever_their_distance() -> None:
    # two ISO dates: no share between them; the date order stands as before
    start = [f"2026-{1 + i % 6:02d}-{1 + i % 9:02d}" for i in range(300)]
    end = [f"2026-{1 + i % 6:02d}-{10 + i % 18:02d}" for i in range(300)]  # days later, same month
    cols = [col("start_date", "string", start), col("end_date", "string", end)]
    assert "start_date <= end_date" in _order_rules(cols)


def test_share_reached() -> None:
    assert relations.share_reached([(1.0, 4.0), (3.0, 6.0), (0.0, 2.0)]) == 0.5
    assert relations.share_reached([(2, 2), (1, 4)]) == 1.0
    # a negative value or a whole of zero or less: a share means nothing there
    assert relations.share_reached([(-1.0, 4.0), (1.0, 4.0)]) is None
    assert relations.share_reached([(0.0, 0.0), (1.0, 4.0)]) is None
    assert relations.share_reached([]) is None


def test_negative_quantities_keep_their_order() -> None:
    # potentials in millivolts (both negative): no share, so the order is judged as before
    off = [-1100 + (i * 13) % 400 for i in range(300)]
    on = [o - 50 - (i % 30) for i, o in enumerate(off)]
    cols = [col("on_potential_mv", "long", on), col("off_potential_mv", "long", off)]
    assert "on_potential_mv <= off_potential_mv" in _order_rules(cols)


def _reasons(n: int, every: int) -> list[dict[str, Any]]:
    """n events; one in `every` has a hold and its reason code (three codes, in turn)."""
    codes = ["ENG", "QA", "CUST"]
    out: list[dict[str, Any]] = []
    for i in range(n):
        held = i % every == 0
        out.append({"lot": f"L{i:05d}", "hold_code": codes[(i // every) % 3] if held else None})
    return out


def _offered(settings: InferenceSettings) -> set[str]:
    fields = {
        "lot": FieldIR(name="lot", type="string"),
        "hold_code": FieldIR(name="hold_code", type="string", optional=True),
    }
    sample, holdout = _reasons(300, 12), _reasons(100, 12)  # 25 codes in the sample
    b = Boundary(
        "input",
        fields,
        Sample("s.jsonl", sample, lines=list(range(1, 301))),
        Sample("h.jsonl", holdout, lines=list(range(1, 101))),
    )
    return {p.rule for p in infer_boundary(b, None, settings).proposals}


def test_the_confidence_floor_is_what_min_values_allows() -> None:
    assert DEFAULT.min_confidence == pytest.approx(support_factor(DEFAULT.min_values))
    domain = 'hold_code == null || (hold_code in ["CUST", "ENG", "QA"])'
    assert domain in _offered(DEFAULT)  # 25 values: support 25/55, over the floor
    assert domain not in _offered(InferenceSettings(min_confidence=0.5))  # the old floor: 30 values


def _licences() -> list[Column]:
    """A contractor's licence is set exactly on the shops (a premise equivalence); the zone is a
    correlate (zone C holds only shops), so `zone != "C" || licence != null` holds as well."""
    kinds = ["shop", "home", "home"]
    kind = [kinds[i % 3] for i in range(300)]
    zone = ["C" if k == "shop" and i % 2 == 0 else ("A" if i % 5 else "B") for i, k in enumerate(kind)]
    licence = [f"L{i:04d}" if k == "shop" else None for i, k in enumerate(kind)]
    return [col("kind", "string", kind), col("zone", "string", zone), col("licence", "string", licence, True)]


def _implication(present: list[str]) -> Candidate:
    return Candidate(
        id="zone_c_implies_licence",
        rule='zone != "C" || licence != null',
        profile="relation",
        fields=("zone", "licence"),
        message="m",
        basis="b",
        kind="implies",
        refine={"present": present},
    )


def test_an_implication_whose_presence_has_its_own_equivalence_is_not_offered() -> None:
    cols = _licences()
    out = presence.profile(cols, [_implication(["licence"])], DEFAULT)
    assert '(kind == "shop") == (licence != null)' in {c.rule for c in out}
    assert all(c.kind != "implies" for c in out)


def test_an_implication_is_kept_when_a_concluded_presence_has_no_equivalence() -> None:
    cols = _licences()
    kept = {c.id for c in presence.profile(cols, [_implication(["licence", "permit"])], DEFAULT)}
    assert "zone_c_implies_licence" in kept
    # one that concludes no presence (a value implication, with value_implications on) is not judged here
    assert "zone_c_implies_licence" in {c.id for c in presence.profile(cols, [_implication([])], DEFAULT)}


def test_two_fields_set_together_do_not_say_when() -> None:
    # licence and permit are set on the same events and no category decides them: only `together`
    rng = [(i * 7919) % 13 for i in range(300)]
    licence = [f"L{i:04d}" if r < 4 else None for i, r in enumerate(rng)]
    permit = [f"P{i:04d}" if r < 4 else None for i, r in enumerate(rng)]
    zone = ["C" if r < 2 else "A" for r in rng]
    cols = [
        col("zone", "string", zone),
        col("licence", "string", licence, True),
        col("permit", "string", permit, True),
    ]
    for named in (["licence"], ["permit"], ["licence", "permit"]):
        out = presence.profile(cols, [_implication(named)], DEFAULT)
        assert "(licence == null) == (permit == null)" in {c.rule for c in out}
        assert "zone_c_implies_licence" in {c.id for c in out}


def test_an_implication_names_the_fields_it_says_are_there() -> None:
    # card payments carry the card's last four digits: the presence the implication concludes
    found = {c.rule: c for c in relations.implications(_orders(), DEFAULT)}
    assert found['method != "card" || card_last4 != null'].refine["present"] == ["card_last4"]


def test_only_the_presences_are_named_not_the_values() -> None:
    # a returned loan has a return date (a presence) and is closed (a flag's value): one rule, one name
    rows = [("returned", "2026-01-05", True), ("open", None, False), ("renewed", None, False)] * 100
    cols = [
        col("status", "string", [r[0] for r in rows]),
        col("returned_on", "string", [r[1] for r in rows], optional=True),
        col("closed", "boolean", [r[2] for r in rows]),
    ]
    (found,) = [c for c in relations.implications(cols, DEFAULT) if c.fields[0] == "status"]
    assert found.rule == 'status != "returned" || (returned_on != null && closed)'
    assert found.refine["present"] == ["returned_on"]


def _issn_rules(kind: tuple[str, str, list[Any]], number: str) -> set[str]:
    """The presence rules of an ISSN set for one of three kinds (`kind`: name, type, the three values)
    whose loan period, a number named `number`, is 28, 14 or 7 days: both the kind and the number
    decide the ISSN's presence."""
    name, type_, values = kind
    rows = [(values[i % 3], (28, 14, 7)[i % 3], (None, "1234-5678", None)[i % 3]) for i in range(300)]
    cols = [
        col(name, type_, [r[0] for r in rows]),
        col(number, "long", [r[1] for r in rows]),
        col("issn", "string", [r[2] for r in rows], optional=True),
    ]
    return {c.rule for c in presence.equivalences(cols, DEFAULT)}


def test_a_category_names_the_case_before_a_number_it_sets() -> None:
    # magazines carry an ISSN; the loan period (14 days) follows the material type, so both decide it
    material = ("material_type", "string", ["book", "magazine", "dvd"])
    assert _issn_rules(material, "loan_period_days") == {'(material_type == "magazine") == (issn != null)'}


def _share_pair(part_at_most: float) -> list[Column]:
    """A part at a quarter of its whole on every event but one, where it is `part_at_most` of it."""
    net = _amounts()
    part = [round(0.25 * v, 2) for v in net]
    net[0], part[0] = 100.0, round(100.0 * part_at_most, 2)
    return [col("discount_amount", "double", part), col("net_amount", "double", net)]


def test_a_part_that_reaches_exactly_half_is_ordered_and_just_under_is_not() -> None:
    # "reaches at least half": 50.00 of 100.00 on one event is enough, 49.99 is not
    assert _order_rules(_share_pair(0.5)) == {"discount_amount <= net_amount"}
    assert _order_rules(_share_pair(0.4999)) == set()


def test_a_flag_names_the_case_before_a_number_it_sets() -> None:
    # the flag's rule is the longer one: only the flag-before-number preference picks it
    flag = ("is_a_periodical_serial_publication", "boolean", [False, True, False])
    assert _issn_rules(flag, "d") == {"is_a_periodical_serial_publication == (issn != null)"}
