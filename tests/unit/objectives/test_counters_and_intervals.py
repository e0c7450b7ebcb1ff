"""What a boundary does not offer: the shape of a running number, the formats of ordered dates, a range
on a product. Samples built so the answer follows from how they were made."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers import counters
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()


def col(name: str, values: list[Any]) -> Column:
    return Column(FieldIR(name=name, type="string"), values)  # type: ignore[arg-type]


def test_a_counter_is_a_running_number_and_random_digits_are_not() -> None:
    rng = random.Random(1)
    assert counters.running_number(col("order_id", [f"ORD-{i:07d}" for i in range(500, 800)]), S)
    assert counters.running_number(col("ticket", [str(1000 + 3 * i) for i in range(100)]), S)  # gaps
    assert counters.running_number(col("n", [f"N{i}" for i in range(95, 140)]), S)  # unpadded, grows
    assert not counters.running_number(
        col("policy", [f"HP{rng.randint(0, 10**8 - 1):08d}" for _ in range(300)]), S
    )
    # a fixed country code is format, not counting: the digits after it are random
    phones = [f"+447{rng.randint(0, 10**9 - 1):09d}" for _ in range(300)]
    assert not counters.running_number(col("caller", phones), S)
    assert not counters.running_number(col("code", ["A1", "A2", "B3"] * 10), S)  # repeats: no id


def test_the_window_chance_is_small_only_for_a_narrow_window() -> None:
    assert counters.chance_of_window(list(range(300)), 6) < 1e-100
    assert counters.chance_of_window([0, 999_999], 6) == 1.0


def _infer(rows: list[dict[str, Any]], types: dict[str, str]) -> Any:
    fields = [FieldIR(name=n, type=t) for n, t in types.items()]  # type: ignore[arg-type]
    sample = parse_sample([json.dumps(r) for r in rows[:300]], fields, "sample")
    holdout = parse_sample([json.dumps(r) for r in rows[300:]], fields, "holdout")
    return infer_boundary(Boundary("input", {f.name: f for f in fields}, sample, holdout), None, S)


def _dates(rng: random.Random) -> tuple[str, str, str]:
    start = rng.randint(1, 20)
    booked = f"2025-0{rng.randint(1, 9)}-{rng.randint(10, 28)}"
    return f"2025-03-{start:02d}", f"2025-03-{start + rng.randint(0, 8):02d}", booked


def test_a_running_id_gets_an_observation_and_its_counters_format() -> None:
    rng = random.Random(3)
    rows = [{"claim_id": f"C{i:06d}", "policy": f"P{rng.randint(0, 99999):05d}"} for i in range(400)]
    result = _infer(rows, {"claim_id": "string", "policy": "string"})
    [rule] = [p.rule for p in result.proposals if p.fields == ("claim_id",)]
    # the counter's prefix as written, then its six padded digits (round 8: counters.counter_format)
    assert rule == 'claim_id.matches("^C[0-9]{6}$")'
    assert any(p.fields == ("policy",) for p in result.proposals)
    assert any(o.field == "claim_id" and o.kind == "running number" for o in result.observations)


def test_ordered_dates_get_their_order_and_a_lone_date_its_format() -> None:
    rng = random.Random(5)
    rows = []
    for _ in range(400):
        start, end, booked = _dates(rng)
        rows.append({"start": start, "end": end, "booked": booked})
    result = _infer(rows, {"start": "string", "end": "string", "booked": "string"})
    rules = [p.rule for p in result.proposals]
    assert "start <= end" in rules
    assert not any(r.startswith(("start.matches", "end.matches")) for r in rules)
    assert any(r.startswith("booked.matches") for r in rules)


def test_a_product_gets_no_range_of_its_own_but_its_factors_do() -> None:
    rng = random.Random(7)
    rows = []
    for _ in range(400):
        nights, rate = rng.choice([1, 2, 3, 5, 7]), round(rng.uniform(50, 300), 2)
        rows.append({"nights": nights, "rate": rate, "total": round(nights * rate, 2)})
    result = _infer(rows, {"nights": "long", "rate": "double", "total": "double"})
    by_kind = {(p.kind, p.fields[-1]) for p in result.proposals}
    assert ("product", "total") in by_kind
    assert ("range", "total") not in by_kind and ("range", "rate") in by_kind
