"""A time sent as a date in text where the spec declares a whole number (`ordered_at: long`, epoch seconds as
docs/spec.md's examples) was refused with "'ordered_at' must be long, got str '2026-12-07T10:00:00Z'": right,
but not what to send (session 18 newcomer, N7). The reason now says that times are epoch seconds here, and an
ISO date-time gets its own epoch seconds."""

from __future__ import annotations

import pytest

from dana_workflows.processors.ingest import check_field
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

ORDERED_AT = FieldIR(name="ordered_at", type="long")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2026-12-07T10:00:00Z", 1796637600),  # date -u -d 2026-12-07T10:00:00Z +%s
        ("2026-12-07T11:00:00+01:00", 1796637600),
        ("2026-12-07", 1796601600),  # no zone: UTC
    ],
)
def test_an_iso_date_gets_its_epoch_seconds(value: str, seconds: int) -> None:
    assert check_field(ORDERED_AT, value) == (
        None,
        f"'ordered_at' must be long, got str {value!r} (a time is a whole number of epoch seconds here: "
        f"{value} is {seconds})",
    )


def test_another_date_format_gets_the_rule_without_a_guess() -> None:
    # 07/12/2026 is July or December depending on who wrote it: no number is offered
    assert check_field(ORDERED_AT, "07/12/2026") == (
        None,
        "'ordered_at' must be long, got str '07/12/2026' (a time is a whole number of epoch seconds here, "
        "not a date in text)",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [(ORDERED_AT, "2"), (ORDERED_AT, "soon"), (FieldIR(name="note", type="double"), "2026-12-07")],
)
def test_other_wrong_values_keep_the_plain_reason(field: FieldIR, value: str) -> None:
    _, reason = check_field(field, value)
    assert reason == f"'{field.name}' must be {field.type}, got str {value!r}"
