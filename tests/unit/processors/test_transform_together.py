"""A transform step's derived fields computed by one generated function (cel_native.compile_natives), and each
alone where it defers (docs/performance.md, "Session 17: the hop").

The expected payloads and errors are those of the same step with each field evaluated alone (the step as it
was, `together` off), which the CEL grid tests (tests/unit/workflow) hold to the CEL library.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dana_workflows.processors.transform import TransformProcessor
from dana_workflows.workflow.cel_expr import NATIVE_ENV
from dana_workflows.workflow.cel_native import Defer, compile_natives
from dana_workflows.workflow.ir import DeriveIR, TransformStepIR
from tests.unit.processors.test_first_try import evaluated  # noqa: F401 - the fixture
from tests.unit.processors.test_processors import ctx, env

pytestmark = pytest.mark.unit

NORMALIZE = (  # the claims example's normalize step
    DeriveIR(field="currency", expr="upper(trim(currency))", type="string"),
    DeriveIR(
        field="amount_usd",
        expr="upper(trim(currency)) == 'EUR' ? amount * 1.1 "
        ": (upper(trim(currency)) == 'GBP' ? amount * 1.25 : amount)",
        type="double",
    ),
)


def step(derive: tuple[DeriveIR, ...]) -> TransformProcessor:
    return TransformProcessor(TransformStepIR(name="normalize", derive=derive))


def alone(derive: tuple[DeriveIR, ...]) -> TransformProcessor:
    out = step(derive)
    out.together = None  # each field by itself: the step as it was
    return out


async def decided(processor: TransformProcessor, payload: dict[str, Any]) -> tuple[str, Any]:
    try:
        out = await processor.process(env(**payload), ctx())
    except Exception as exc:
        return ("raised", f"{type(exc).__name__}: {exc}")
    return ("payload", repr(out.envelope.payload))


async def test_the_claims_normalize_step_computes_both_fields_in_one_call(evaluated: list[str]) -> None:  # noqa: F811
    processor = step(NORMALIZE)
    assert processor.together is not None
    firsts = []
    for i, (name, expr, _, cast) in enumerate(processor.derive):  # each field's own fast path must not run

        def refused(scope: Any, source: str = expr.source) -> Any:
            firsts.append(source)
            raise AssertionError("the field's own fast path ran")

        processor.derive[i] = (name, expr, refused, cast)
    out = await processor.process(env(currency=" gbp ", amount=10.0), ctx())
    assert out.envelope.payload == {"currency": "GBP", "amount": 10.0, "amount_usd": 12.5}
    assert firsts == [] and evaluated == []


async def test_where_one_field_defers_each_is_evaluated_alone(evaluated: list[str]) -> None:  # noqa: F811
    # an int amount: `amount * 1.25` is not the fast path's (CEL does not mix int and double), so the
    # function defers; currency answers alone, amount_usd goes to CEL, which has no such overload
    out = await decided(step(NORMALIZE), {"currency": "gbp", "amount": 10})
    assert out[0] == "raised" and "No such overload" in out[1]
    assert evaluated == [NORMALIZE[1].expr]
    evaluated.clear()
    # USD: amount_usd is the amount itself (an int here), which the double field then casts
    assert await decided(step(NORMALIZE), {"currency": "usd", "amount": 10}) == (
        "payload",
        repr({"currency": "USD", "amount": 10, "amount_usd": 10.0}),
    )


def test_one_field_or_the_fast_path_off_has_no_joint_function(monkeypatch: pytest.MonkeyPatch) -> None:
    assert step(NORMALIZE[:1]).together is None
    monkeypatch.setenv(NATIVE_ENV, "0")
    assert step(NORMALIZE).together is None


def test_outside_the_subset_has_no_joint_function() -> None:
    assert step((*NORMALIZE, DeriveIR(field="n", expr="size(tags)", type="long"))).together is not None
    assert compile_natives([("x.y", ("x",)), ("x", ("x",))]) is None  # member access: CEL alone
    assert compile_natives([("x", ("x", "y")), ("y", ("y",))]) is None  # variables CEL disagrees on


def test_the_shared_part_is_written_once() -> None:
    function = compile_natives(
        [(d.expr, ("currency",) if i == 0 else ("amount", "currency")) for i, d in enumerate(NORMALIZE)]
    )
    assert function is not None
    assert function({"currency": " eur ", "amount": 10.0}) == ("EUR", pytest.approx(11.0))
    with pytest.raises(Defer):
        function({"currency": " eur "})  # amount missing: CEL reports it


VALUES: list[Any] = [None, True, 0, 7, 2**70, 0.0, 2.5, math.nan, "", " eur ", "gbp", "é", "\ud800", [1]]
EXPRESSIONS = [
    "upper(trim(x))",
    "upper(trim(x)) == 'EUR' ? y * 1.1 : y",
    "size(x) > 0 ? size(x) : 0",
    "y + 1.5",
    "y / 2.0",
    "x == 'a' || y > 1.0",
    "trim(x) + 'z'",
    "-y",
    "y",
]
TYPES = ["string", "double", "long", "boolean"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.lists(st.tuples(st.sampled_from(EXPRESSIONS), st.sampled_from(TYPES)), min_size=2, max_size=4),
    payloads=st.lists(
        st.fixed_dictionaries({}, optional={"x": st.sampled_from(VALUES), "y": st.sampled_from(VALUES)}),
        min_size=1,
        max_size=5,
    ),
)
async def test_the_same_payloads_and_errors_as_each_field_alone(
    fields: list[tuple[str, str]], payloads: list[dict[str, Any]]
) -> None:
    derive = tuple(DeriveIR(field=f"f{i}", expr=e, type=t) for i, (e, t) in enumerate(fields))  # type: ignore[arg-type]
    joint, each = step(derive), alone(derive)
    assert joint.together is not None
    for payload in payloads:
        assert await decided(joint, payload) == await decided(each, payload), payload


@pytest.mark.parametrize(
    "payload",
    [
        {"x": "a", "y": 2**70},  # an int past 64 bits: CEL binds it as a double
        {"x": "\ud800", "y": 1.0},  # a lone surrogate: CEL cannot bind it
        {"x": b"ab", "y": 1.0},  # bytes: CEL's own kind
    ],
)
async def test_a_value_cel_binds_its_own_way_is_left_to_each_field(payload: dict[str, Any]) -> None:
    derive = (
        DeriveIR(field="a", expr="y", type="string"),
        DeriveIR(field="b", expr="upper(trim(x))", type="string"),
    )
    assert await decided(step(derive), payload) == await decided(alone(derive), payload)


def test_fields_too_deep_for_python_together_run_alone() -> None:
    deep = "x || (x ? " * 49 + "y" + " : false)" * 49  # one Python block per nested branch: past 100 levels
    assert compile_natives([(deep, ("x", "y")), ("x", ("x",))]) is None
