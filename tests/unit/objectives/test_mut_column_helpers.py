"""The helpers every profiler writes rules with (objectives/profilers/column.py).

From the docstrings: a CEL literal has the field's own type (a double always carries a point or an
exponent, CEL does not convert; strings JSON-quoted); a rule on a field with nulls lets null pass;
support is n / (n + 30): 0.5 at 30 values, 0.9 at 270; nice bounds round outward, to whole numbers for
integer fields and to three significant digits otherwise.
"""

from __future__ import annotations

import math

import pytest

from dana_workflows.objectives.profilers.column import (
    Column,
    guarded,
    literal,
    nice_ceil,
    nice_floor,
    support_factor,
)
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "type_", "text"),
    [
        ('a"b', "string", '"a\\"b"'),
        (True, "boolean", "true"),
        (False, "boolean", "false"),
        (3.9, "long", "3"),
        (7, "int", "7"),
        (2, "double", "2.0"),
        (2.5, "double", "2.5"),
        (1e20, "double", "1e20"),
        (1.5e-7, "float", "1.5e-07"),
        (123456789012.0, "double", "1.23456789e11"),
    ],
)
def test_literals_have_the_fields_type(value: object, type_: str, text: str) -> None:
    assert literal(value, type_) == text


def test_a_column_knows_its_values() -> None:
    col = Column(FieldIR(name="x", type="long"), [1, None, 3])
    assert col.name == "x" and col.present == [1, 3] and col.numeric and col.has_nulls
    text = Column(FieldIR(name="s", type="string"), ["a"])
    assert not text.numeric and not text.has_nulls
    assert Column(FieldIR(name="b", type="boolean"), [True]).numeric is False
    assert Column(FieldIR(name="f", type="float"), [1.0]).numeric is True


def test_null_passes_only_where_the_sample_has_nulls() -> None:
    with_nulls = Column(FieldIR(name="x", type="long"), [1, None])
    assert guarded(with_nulls, "x > 0") == "x == null || (x > 0)"
    assert guarded(Column(FieldIR(name="x", type="long"), [1]), "x > 0") == "x > 0"


def test_support_factor() -> None:
    assert support_factor(30) == 0.5 and support_factor(270) == 0.9 and support_factor(0) == 0.0


def test_nice_bounds_round_outward() -> None:
    assert nice_floor(12.7, True) == 12.0 and nice_ceil(12.2, True) == 13.0
    assert nice_floor(-12.2, True) == -13.0
    assert nice_floor(123456.0, False) == 123000.0 and nice_ceil(123456.0, False) == 124000.0
    assert nice_floor(0.012345, False) == pytest.approx(0.0123) and nice_ceil(
        0.012345, False
    ) == pytest.approx(0.0124)
    assert nice_floor(-1.2345, False) == pytest.approx(-1.24) and nice_ceil(-1.2345, False) == pytest.approx(
        -1.23
    )
    assert nice_ceil(100.0, False) == 100.0 and nice_floor(100.0, False) == 100.0
    assert nice_floor(0.0, False) == 0.0
    assert math.isinf(nice_ceil(math.inf, False))
