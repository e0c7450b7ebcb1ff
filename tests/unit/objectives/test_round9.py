"""Round 9 (docs/objectives.md): an implication is offered by default only when it concludes that some
field is there (`method != "card" || card_last4 != null`); one that concludes only values (a flag, a
category's value, a zero) or a flag's equivalence is offered only with `value_implications` on.

Each sample is made so both kinds of finding hold on every event: which is offered follows from the
setting and the conclusion's shape, not from the sample's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.profilers import relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
DEFAULT = InferenceSettings()
WITH_VALUES = InferenceSettings(value_implications=True)


def col(name: str, type_: str, values: Sequence[Any], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type=type_, optional=optional), list(values))  # type: ignore[arg-type]


def _orders() -> list[Column]:
    """Card payments carry the card's last four digits (a presence); express orders ship free (a flag's
    value); both hold on all 300 events and fail elsewhere, and the two premise fields are unrelated."""
    methods = ["card", "cash", "transfer"]
    speeds = ["express", "standard", "standard", "economy"]
    method = [methods[i % 3] for i in range(300)]
    speed = [speeds[(i // 3) % 4] for i in range(300)]
    last4 = [f"{i % 10000:04d}" if m == "card" else None for i, m in enumerate(method)]
    free = [s == "express" for s in speed]
    return [
        col("method", "string", method),
        col("card_last4", "string", last4, optional=True),
        col("speed", "string", speed),
        col("free_shipping", "boolean", free),
    ]


def _rules(cols: list[Column], settings: InferenceSettings) -> set[str]:
    return {c.rule for c in relations.implications(cols, settings)}


def test_a_presence_conclusion_is_offered_and_a_flags_value_only_when_asked_for() -> None:
    presence = 'method != "card" || card_last4 != null'
    flag = 'speed != "express" || free_shipping'
    by_default = _rules(_orders(), DEFAULT)
    assert presence in by_default
    assert flag not in by_default
    with_values = _rules(_orders(), WITH_VALUES)
    assert {presence, flag} <= with_values
    assert all("card_last4 != null" in r for r in by_default)  # nothing that concludes only values


def test_a_conjunction_with_a_presence_in_it_stays_whole() -> None:
    # a returned loan has its return date and is closed (an open or renewed one neither): one premise,
    # a presence and a flag, one rule
    status = [("returned", "open", "renewed")[i % 3] for i in range(300)]
    returned_on = [f"2026-01-{1 + i % 28:02d}" if s == "returned" else None for i, s in enumerate(status)]
    closed = [s == "returned" for s in status]
    cols = [
        col("status", "string", status),
        col("returned_on", "string", returned_on, optional=True),
        col("closed", "boolean", closed),
    ]
    found = _rules(cols, DEFAULT)
    assert 'status != "returned" || (returned_on != null && closed)' in found


def test_a_flags_equivalence_is_a_value_finding() -> None:
    # the verdict is decided by the reading against its limit on every event: an equivalence
    reading = [i % 50 for i in range(300)]
    limit = [20 + (i % 7) for i in range(300)]
    passed = [r <= lim for r, lim in zip(reading, limit, strict=True)]
    cols = [col("reading", "long", reading), col("limit", "long", limit), col("passed", "boolean", passed)]
    assert "(reading > limit) == (!passed)" in _rules(cols, WITH_VALUES)
    assert not any("passed" in r for r in _rules(cols, DEFAULT))
    assert _rules(cols, DEFAULT) == set()


def test_only_a_fields_presence_counts_as_a_presence_conclusion() -> None:
    flag = col("paid", "boolean", [True, False] * 50)
    amount = col("amount", "double", [1.0, None] * 50, optional=True)
    by_id = {c.id: c for c in relations._conclusions([flag, amount])}
    assert relations._concludes_presence(by_id["amount"])
    assert not relations._concludes_presence(by_id["paid"])  # a flag's id is its name too
    assert not relations._concludes_presence(by_id["not_paid"])
