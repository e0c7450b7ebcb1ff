"""Review of round 8 (session 12): a premise's grouped fields refused part by part, a counter's width
without proof of padding, a learned head of marks or digits, set-together pairs sharing a field.

Expected rules come from what the data says: a cancelled inspection that still logs minutes is a good
event against the minutes part only; a counter at INV9999 issues INV10000 next."""

from __future__ import annotations

import json
import random

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers import counters, patterns, presence
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR
from tests.unit.objectives.test_round7 import holds_event

pytestmark = pytest.mark.unit
S = InferenceSettings()


# --- 1. a grouped premise rule refused whole offers its parts one by one (infer.py) -------------------


def _inspection(i: int, result: str, minutes_on_cancel: bool = False) -> str:
    done = result != "cancelled"
    return json.dumps(
        {
            "result": result,
            "inspected_date": "2026-01-05" if done else None,
            "inspector_id": f"I{i % 7}" if done else None,
            "minutes": (30 + i % 50) if (done or minutes_on_cancel) else None,
        }
    )


def test_a_good_event_breaking_one_part_of_a_premise_group_drops_that_part_only() -> None:
    fields = [
        FieldIR(name="result", type="string"),
        FieldIR(name="inspected_date", type="string", optional=True),
        FieldIR(name="inspector_id", type="string", optional=True),
        FieldIR(name="minutes", type="long", optional=True),
    ]
    rng = random.Random(8)
    lines = [_inspection(i, rng.choice(["pass", "pass", "fail", "cancelled"])) for i in range(400)]
    # a cancelled inspection that still logged travel minutes: good, and against the minutes part only
    hold = [*lines[300:], _inspection(999, "cancelled", minutes_on_cancel=True)]
    boundary = Boundary(
        "input",
        {f.name: f for f in fields},
        parse_sample(lines[:300], fields, "s"),
        parse_sample(hold, fields, "h"),
    )
    res = infer_boundary(boundary, None, S)
    offered = sorted(p.rule for p in res.proposals if p.kind == "presence")
    assert offered == [
        '(result == "cancelled") == (inspected_date == null)',
        '(result == "cancelled") == (inspector_id == null)',
    ]
    refused = [r.rule for r in res.refused if "null" in r.rule]
    assert refused == ['(result == "cancelled") == (minutes == null)']


# --- 2. a counter's exact width needs a leading zero (profilers/counters.py) ---------------------------


def _counter(values: list[str]) -> str:
    cand = counters.counter_format(Column(FieldIR(name="invoice", type="string"), list(values)), S)
    assert cand is not None
    return cand.rule


def test_an_unpadded_counter_in_one_decade_admits_its_next_id() -> None:
    rule = _counter([f"INV{i}" for i in range(9700, 10000)])
    assert holds_event(rule, {"invoice": "INV9999"})
    assert holds_event(rule, {"invoice": "INV10000"})  # the counter's next id
    assert not holds_event(rule, {"invoice": "INV999"})  # shorter than any it issued
    assert not holds_event(rule, {"invoice": "XY9999"})


def test_a_padded_counter_keeps_its_exact_width() -> None:
    rule = _counter([f"INV{i:06d}" for i in range(9700, 10000)])
    assert rule == 'invoice.matches("^INV[0-9]{6}$")'
    assert not holds_event(rule, {"invoice": "INV0010000"})


# --- 3. only a head of letters is written as itself (profilers/patterns.py) ----------------------------


def _learned(values: list[str]) -> str:
    [cand] = patterns.profile(Column(FieldIR(name="phone", type="string"), list(values)), S)
    return cand.rule


def test_a_constant_mark_head_stays_a_class_not_a_bare_quantifier() -> None:
    rng = random.Random(4)
    values = [f"+44{rng.randint(0, 9999):04d}" for _ in range(300)]
    assert patterns.learned_regex(values) == "^[+][0-9]{6}$"
    rule = _learned(values)
    [cand] = patterns.profile(Column(FieldIR(name="phone", type="string"), list(values)), S)
    assert cand.basis == "all 300 values have the same shape"  # `[+]` is a sign, not a run of any length
    assert all(holds_event(rule, {"phone": v}) for v in values[:20])
    assert not holds_event(rule, {"phone": "440001"})


def test_a_constant_digit_head_stays_a_class_of_digits() -> None:
    rng = random.Random(5)
    values = [f"12-{rng.randint(0, 9999):04d}" for _ in range(300)]
    assert patterns.learned_regex(values) == "^[0-9]{2}-[0-9]{4}$"
    assert holds_event(_learned(values), {"phone": "34-0001"})


# --- 4. fields set together keep their own pairs, a shared field is no premise (profilers/presence.py) --


def test_set_together_pairs_sharing_a_field_stay_pairs() -> None:
    rng = random.Random(9)
    returned = [rng.random() < 0.4 for _ in range(300)]

    def opt(name: str, value: str) -> Column:
        return Column(
            FieldIR(name=name, type="string", optional=True), [value if r else None for r in returned]
        )

    cols = [
        opt("return_type", "refund"),
        opt("reason_code", "R1"),
        opt("return_note", "see file"),
        Column(FieldIR(name="amount", type="long"), [rng.randint(1, 500) for _ in range(300)]),
    ]
    got = sorted((c.fields, c.rule) for c in presence.profile(cols, [], S) if c.kind == "presence")
    assert got == [
        (("reason_code", "return_note"), "(reason_code == null) == (return_note == null)"),
        (("return_type", "reason_code"), "(return_type == null) == (reason_code == null)"),
        (("return_type", "return_note"), "(return_type == null) == (return_note == null)"),
    ]


# --- 5, 6. pack_for reads the domain it is given; each caller gets its own pack (domain_packs.py) ------


def test_pack_for_a_domain_is_that_domain_then_core() -> None:
    from dana_workflows.objectives.domain_packs import pack_for

    assert pack_for("finance").chain == ["finance", "core"]
    assert pack_for("finance:lending").chain == ["finance:lending", "finance", "core"]
    assert pack_for(None).chain == ["core"]


def test_a_caller_editing_its_pack_does_not_change_the_next_callers() -> None:
    from dana_workflows.objectives.domain_packs import pack_for

    first = pack_for("finance")
    n = len(first.priors)
    assert n > 0
    first.priors.clear()
    first.chain.append("mine")
    again = pack_for("finance")
    assert len(again.priors) == n and again.chain == ["finance", "core"]


# --- 7. a learned or counter's format widens before it is dropped (refine.py) ---------------------------


def _refined(cand: object, column: Column, good: list[str]) -> tuple[str | None, list[str]]:
    from dana_workflows.objectives.proposal import Candidate
    from dana_workflows.objectives.refine import refine

    assert isinstance(cand, Candidate)
    events = [{column.name: v} for v in good]
    out = refine(cand, column, events, lambda i: f"h line {i + 1}", S)
    return (out.candidate.rule if out.candidate else None), out.notes


def test_a_learned_format_widens_to_another_head_and_length() -> None:
    rng = random.Random(6)
    serial = Column(
        FieldIR(name="meter_serial", type="string"),
        [f"WZ{rng.randint(0, 10**8 - 1):08d}" for _ in range(300)],
    )
    [cand] = patterns.profile(serial, S)
    assert cand.rule == 'meter_serial.matches("^WZ[0-9]{8}$")'
    rule, notes = _refined(cand, serial, ["WZ00000001", "XY00000001"])
    assert rule == 'meter_serial.matches("^[A-Z]{2}[0-9]{8}$")'  # another maker: the head's class
    assert notes == ["widened to admit the known-good event h line 2 (meter_serial='XY00000001')"]
    # two refusals in turn: each widening keeps the good events admitted before it
    rule, notes = _refined(cand, serial, ["XY00000001", "WZ123"])
    assert rule == 'meter_serial.matches("^[A-Z]{2}[0-9]+$")'
    assert holds_event(rule, {"meter_serial": "XY00000001"}) and len(notes) == 2
    # a good event of another shape: no format covers both, the rule is dropped
    rule, notes = _refined(cand, serial, ["12-AB"])
    assert rule is None and notes[-1].startswith("dropped")


def test_a_counters_format_widens_to_a_longer_counter() -> None:
    column = Column(FieldIR(name="invoice", type="string"), [f"INV{i:04d}" for i in range(300)])
    cand = counters.counter_format(column, S)
    assert cand is not None and cand.rule == 'invoice.matches("^INV[0-9]{4}$")'
    rule, _ = _refined(cand, column, ["INV0301", "INV10000"])
    assert rule == 'invoice.matches("^INV[0-9]+$")'
    assert not holds_event(rule, {"invoice": "CRN0001"})  # the head stays: only the length widened


def test_a_known_format_is_not_widened() -> None:
    dates = Column(FieldIR(name="day", type="string"), [f"2026-01-{d:02d}" for d in range(1, 29)] * 10)
    [cand] = patterns.profile(dates, S)
    rule, notes = _refined(cand, dates, ["2026-13-01"])
    assert rule is None and notes[-1].startswith("dropped")
